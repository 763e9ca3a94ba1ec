"""Token-level rewrites of Redshift's physical DDL attributes, which have no PostgreSQL meaning.

Distribution, sort keys, column encodings, BACKUP and AUTO REFRESH only steer Redshift's storage,
so they are dropped; IDENTITY(seed, step) becomes a PostgreSQL identity column.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.lexer import find_closing, tokenize, word

_TEMP_WORDS = {"TEMP", "TEMPORARY", "LOCAL"}
_STORAGE_ALTERS = {"DISTKEY", "DISTSTYLE", "SORTKEY", "COMPOUND", "INTERLEAVED", "ENCODE"}


def is_physical_ddl(tokens: list[Token]) -> bool:
    """Whether the statement is a CREATE TABLE or CREATE MATERIALIZED VIEW (the ones with attributes)."""
    words = [word(token) for token in tokens[:6]]
    if not words or words[0] != "CREATE":
        return False
    rest = words[1:]
    if rest[:2] == ["OR", "REPLACE"]:
        rest = rest[2:]
    while rest and rest[0] in _TEMP_WORDS:
        rest = rest[1:]
    return bool(rest) and (rest[0] == "TABLE" or rest[:2] == ["MATERIALIZED", "VIEW"])


def strip_physical_attributes(sql: str, tokens: list[Token] | None = None) -> str:
    """Rewrite one CREATE TABLE / CREATE MATERIALIZED VIEW statement for PostgreSQL (`tokens`: its
    tokens, when known)."""
    tokens = tokenize(sql) if tokens is None else tokens
    if not is_physical_ddl(tokens):
        return sql
    edits: list[tuple[int, int, str]] = []
    depth = 0
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind = token.token_type
        current = word(token)
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and current == "AS" and index > 2:
            break  # the query of a CTAS or materialized view is left to the statement translator
        elif current == "ENCODE" and index + 1 < len(tokens):
            edits.append((token.start, tokens[index + 1].end, ""))
            index += 2
            continue
        elif current == "IDENTITY" and _is_open(tokens, index + 1):
            index = _identity(tokens, index, edits)
            continue
        elif current in ("DISTKEY", "SORTKEY") and depth == 1 and not _is_open(tokens, index + 1):
            edits.append((token.start, token.end, ""))
        elif depth == 0:
            consumed = _table_attribute(tokens, index, edits)
            if consumed:
                index += consumed
                continue
        index += 1
    return _apply(sql, edits)


def alter_table_storage_only(tokens: list[Token]) -> bool:
    """Whether an ALTER TABLE only changes distribution, sort key or encodings (no local effect)."""
    words = [word(token) for token in tokens]
    if words[:2] != ["ALTER", "TABLE"]:
        return False
    if "ENCODE" in words and "ADD" not in words:
        return True
    for index in range(3, len(words) - 1):
        if words[index] == "ALTER" and words[index + 1] in _STORAGE_ALTERS:
            return True
    return False


def strip_encodings(sql: str, tokens: list[Token]) -> str:
    """Remove `ENCODE <encoding>` column attributes (ALTER TABLE ... ADD COLUMN)."""
    edits = [
        (token.start, tokens[index + 1].end, "")
        for index, token in enumerate(tokens[:-1])
        if word(token) == "ENCODE"
    ]
    return _apply(sql, edits)


def _is_open(tokens: list[Token], index: int) -> bool:
    return index < len(tokens) and tokens[index].token_type == TokenType.L_PAREN


def _identity(tokens: list[Token], index: int, edits: list[tuple[int, int, str]]) -> int:
    close = find_closing(tokens, index + 1)
    inner = [token for token in tokens[index + 2 : close] if token.token_type != TokenType.COMMA]
    if len(inner) != 2 or any(token.token_type != TokenType.NUMBER for token in inner):
        raise UnsupportedSqlError("IDENTITY column options other than IDENTITY(seed, step)")
    seed, step = inner[0].text, inner[1].text
    preceded = [word(token) for token in tokens[max(0, index - 4) : index]]
    generated = preceded == ["GENERATED", "BY", "DEFAULT", "AS"]
    options = f"IDENTITY (START WITH {seed} INCREMENT BY {step})"
    # Redshift rejects explicit values for a plain IDENTITY column, as GENERATED ALWAYS does.
    edits.append(
        (tokens[index].start, tokens[close].end, options if generated else f"GENERATED ALWAYS AS {options}")
    )
    return close + 1


def _table_attribute(tokens: list[Token], index: int, edits: list[tuple[int, int, str]]) -> int:
    """Drop a table attribute starting at `index`; return how many tokens it spans (0: none)."""
    words = [word(token) for token in tokens[index : index + 3]]
    first = words[0]
    if first == "DISTSTYLE" and len(words) > 1:
        return _drop(tokens, index, 2, edits)
    if first == "BACKUP" and len(words) > 1 and words[1] in ("YES", "NO"):
        return _drop(tokens, index, 2, edits)
    if first == "AUTO" and len(words) > 2 and words[1] == "REFRESH":
        if words[2] == "YES":
            raise UnsupportedSqlError(
                "AUTO REFRESH YES", "materialized views are refreshed only by REFRESH MATERIALIZED VIEW"
            )
        return _drop(tokens, index, 3, edits)
    key_start = 1 if first in ("COMPOUND", "INTERLEAVED") else 0
    if (
        len(words) > key_start
        and words[key_start] in ("SORTKEY", "DISTKEY")
        and (key_start == 0 or words[1] == "SORTKEY")
    ):
        after = index + key_start + 1
        if _is_open(tokens, after):
            return _drop(tokens, index, find_closing(tokens, after) - index + 1, edits)
        if after < len(tokens) and word(tokens[after]) == "AUTO":
            return _drop(tokens, index, key_start + 2, edits)
    return 0


def _drop(tokens: list[Token], index: int, count: int, edits: list[tuple[int, int, str]]) -> int:
    edits.append((tokens[index].start, tokens[index + count - 1].end, ""))
    return count


def _apply(sql: str, edits: list[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in edits:
        pieces.append(sql[cursor:start])
        pieces.append(replacement)
        cursor = end + 1
    pieces.append(sql[cursor:])
    return "".join(pieces)
