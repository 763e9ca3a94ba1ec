"""Token-level translation of procedural code: stored procedure bodies and CALL arguments.

PL/pgSQL is Redshift's procedure language too, so bodies keep their structure; only the SQL
constructs inside them that differ are rewritten, token by token: compat function calls, datepart
keywords, NVL, LISTAGG ... WITHIN GROUP, SYSDATE, `LOCK t` and the physical attributes of CREATE TABLE.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.ddl import strip_physical_attributes
from rsetl.redshift_sql.dialect import COMPAT_FUNCTIONS
from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.lexer import find_closing, is_name, quote_literal, tokenize, word

COMPAT_SCHEMA_PREFIX = "rsetl_compat."

# Words after which a new procedural statement starts.
_STATEMENT_STARTS = {TokenType.SEMICOLON, TokenType.BEGIN}
_STATEMENT_START_WORDS = {"THEN", "ELSE", "LOOP", "BEGIN", "DECLARE"}


def rewrite_body(body: str) -> str:
    """Translate a PL/pgSQL body written for Redshift."""
    return rewrite_expressions(_rewrite_ddl(body))


def rewrite_expressions(text: str) -> str:
    """Rewrite function calls and statement-level differences in `text` (expressions or statements)."""
    tokens = tokenize(text)
    edits: list[tuple[int, int, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name = word(token)
        previous = tokens[index - 1] if index else None
        qualified = previous is not None and previous.token_type == TokenType.DOT
        opens = index + 1 < len(tokens) and tokens[index + 1].token_type == TokenType.L_PAREN
        if _starts_statement(tokens, index) and name in ("COPY", "UNLOAD"):
            raise UnsupportedSqlError(f"{name} inside a stored procedure", "run it as its own statement")
        if name == "LOCK" and _starts_statement(tokens, index) and index + 1 < len(tokens):
            if word(tokens[index + 1]) != "TABLE":
                edits.append((token.start, token.end, "LOCK TABLE"))
        elif qualified or not is_name(token):
            pass
        elif name == "SYSDATE" and not opens:
            edits.append((token.start, token.end, f"{COMPAT_SCHEMA_PREFIX}sysdate()"))
        elif name == "NVL" and opens:
            edits.append((token.start, token.end, "COALESCE"))
        elif name == "LISTAGG" and opens:
            index = _listagg(tokens, index, text, edits)
            continue
        elif name in COMPAT_FUNCTIONS and opens:
            target, datepart = COMPAT_FUNCTIONS[name]
            edits.append((token.start, token.end, COMPAT_SCHEMA_PREFIX + target))
            part = tokens[index + 2] if index + 2 < len(tokens) else None
            if datepart and part is not None and is_name(part) and _next_is_comma(tokens, index + 2):
                edits.append((part.start, part.end, quote_literal(part.text.lower())))
        index += 1
    return _apply(text, edits)


def _starts_statement(tokens: list[Token], index: int) -> bool:
    if index == 0:
        return True
    previous = tokens[index - 1]
    return previous.token_type in _STATEMENT_STARTS or word(previous) in _STATEMENT_START_WORDS


def _next_is_comma(tokens: list[Token], index: int) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].token_type == TokenType.COMMA


def _listagg(tokens: list[Token], index: int, text: str, edits: list[tuple[int, int, str]]) -> int:
    """`LISTAGG(args) WITHIN GROUP (ORDER BY ...)` -> `rsetl_compat.listagg(args ORDER BY ...)`."""
    close = find_closing(tokens, index + 1)
    edits.append((tokens[index].start, tokens[index].end, COMPAT_SCHEMA_PREFIX + "listagg"))
    after = [word(token) for token in tokens[close + 1 : close + 3]]
    if after != ["WITHIN", "GROUP"]:
        return index + 2
    group_open = close + 3
    if group_open >= len(tokens) or tokens[group_open].token_type != TokenType.L_PAREN:
        raise UnsupportedSqlError("LISTAGG ... WITHIN GROUP without an ORDER BY list")
    group_close = find_closing(tokens, group_open)
    order = text[tokens[group_open + 1].start : tokens[group_close - 1].end + 1]
    edits.append((tokens[close].start, tokens[group_close].end, f" {order})"))
    return index + 2


def _rewrite_ddl(body: str) -> str:
    """Strip physical attributes from each CREATE TABLE / MATERIALIZED VIEW inside the body."""
    tokens = tokenize(body)
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if word(token) != "CREATE" or not _starts_statement(tokens, index):
            continue
        end = next(
            (later for later in range(index, len(tokens)) if tokens[later].token_type == TokenType.SEMICOLON),
            len(tokens),
        )
        statement = body[token.start : tokens[end - 1].end + 1]
        rewritten = strip_physical_attributes(statement)
        if rewritten != statement:
            edits.append((token.start, tokens[end - 1].end, rewritten))
    return _apply(body, edits)


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in sorted(edits):
        pieces.append(text[cursor:start])
        pieces.append(replacement)
        cursor = end + 1
    pieces.append(text[cursor:])
    return "".join(pieces)
