"""Classify one Redshift statement and translate it into what the runner executes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.copy_command import CopyCommand, parse_copy
from rsetl.redshift_sql.ddl import (
    alter_table_storage_only,
    is_physical_ddl,
    strip_encodings,
    strip_physical_attributes,
)
from rsetl.redshift_sql.dialect import translate_statement
from rsetl.redshift_sql.exceptions import RedshiftSqlError, UnsupportedSqlError
from rsetl.redshift_sql.isolation import IsolationCommand, parse_isolation
from rsetl.redshift_sql.lexer import span, tokenize, word
from rsetl.redshift_sql.procedural import rewrite_body, rewrite_expressions
from rsetl.redshift_sql.text_cache import TextCache
from rsetl.redshift_sql.unload import UnloadCommand, parse_unload

# Statements PostgreSQL runs as Redshift writes them.
_PASSTHROUGH = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "RESET", "SAVEPOINT", "RELEASE"}
# SET parameters that only steer Redshift's workload management or result cache: accepted, no effect.
_WLM_SETTINGS = {
    "QUERY_GROUP",
    "WLM_QUERY_SLOT_COUNT",
    "ENABLE_RESULT_CACHE_FOR_SESSION",
    "ANALYZE_THRESHOLD_PERCENT",
    "AUTO_ANALYZE",
    "MAX_CONCURRENCY_SCALING_CLUSTERS",
}


@dataclass(frozen=True)
class Translation:
    """What to run for one statement."""

    kind: Literal["sql", "copy", "unload", "isolation", "noop"]
    sql: str = ""
    copy: CopyCommand | None = None
    unload: UnloadCommand | None = None
    isolation: IsolationCommand | None = None


def translate(statement: str) -> Translation:
    """Translate one Redshift statement (no trailing semicolon, parameters already bound)."""
    return translate_tokens(statement, tokenize(statement))


_CACHE: TextCache[Translation] = TextCache()
"""Translations by text: a client sends the same statements over and over, and parsing each with
sqlglot is most of its translation. Only plain SQL and no-ops are kept (a COPY or UNLOAD command is a
mutable object)."""


def translate_cached(statement: str, tokens: Sequence[Token]) -> Translation:
    """`translate_tokens`, answered from the cache of the last 1,024 texts when it holds `statement`."""
    return _CACHE.get(
        statement, lambda: translate_tokens(statement, list(tokens)), lambda t: t.kind in ("sql", "noop")
    )


def translate_tokens(statement: str, tokens: list[Token]) -> Translation:
    """Translate one statement whose tokens (`tokenize(statement)`) are already known."""
    if not tokens:
        raise UnsupportedSqlError("an empty statement")
    words = [word(token) for token in tokens[:4]]
    first = words[0]
    if first == "COPY":
        return Translation("copy", copy=parse_copy(statement, tokens))
    if first == "UNLOAD":
        return Translation("unload", unload=parse_unload(statement, tokens, translate_query))
    if first in _PASSTHROUGH:
        return Translation("sql", statement)
    if first == "SHOW":
        if len(tokens) != 2:
            # SHOW TABLES / SHOW COLUMNS / SHOW PROCEDURE ... are Redshift catalogue commands.
            raise UnsupportedSqlError(" ".join(words[:2]))
        return Translation("sql", statement)
    if first == "SET":
        return _set(statement, words)
    if first in ("VACUUM", "ANALYZE"):
        # Storage and statistics maintenance: no effect on results, so nothing to do locally.
        if words[1:2] == ["COMPRESSION"]:
            raise UnsupportedSqlError("ANALYZE COMPRESSION")
        return Translation("noop")
    if first == "LOCK":
        return Translation("sql", _lock(statement, tokens))
    if first == "CALL":
        return Translation("sql", rewrite_expressions(statement))
    if first == "REFRESH":
        if words[1:3] != ["MATERIALIZED", "VIEW"] or len(tokens) < 4:
            raise UnsupportedSqlError(f"statement {' '.join(words[:2])}")
        # The view's name folds to lower case as every Redshift identifier does.
        return Translation("sql", "REFRESH MATERIALIZED VIEW " + span(statement, tokens[3:]).lower())
    if first in ("GRANT", "REVOKE") or (first == "ALTER" and words[1:3] == ["DEFAULT", "PRIVILEGES"]):
        return Translation("sql", _privileges(statement, tokens))
    if first == "COMMENT":
        return Translation("sql", statement)
    if first == "CREATE" and words[1:2] == ["ROLE"]:
        if len(tokens) != 3:
            raise UnsupportedSqlError("CREATE ROLE options (EXTERNALID)")
        return Translation("sql", statement)
    if first in ("CREATE", "ALTER") and words[1:2] == ["DATABASE"]:
        command = parse_isolation(tokens)
        if command is not None:
            return Translation("isolation", isolation=command)
    if first == "CREATE" and _is_routine(words):
        return Translation("sql", _routine(statement, tokens))
    if first == "ALTER" and words[1:2] == ["TABLE"]:
        if alter_table_storage_only(tokens):
            return Translation("noop")
        if any(word(token) == "APPEND" for token in tokens):
            raise UnsupportedSqlError("ALTER TABLE APPEND")
        statement = strip_encodings(statement, tokens)
    if is_physical_ddl(tokens):
        statement = strip_physical_attributes(statement, tokens)
    return Translation("sql", translate_statement(statement))


def translate_query(query: str) -> str:
    """Translate a query that must return rows (the text inside UNLOAD)."""
    tokens = tokenize(query)
    first = word(tokens[0]) if tokens else ""
    if first not in ("SELECT", "WITH") and not (tokens and tokens[0].token_type == TokenType.L_PAREN):
        raise UnsupportedSqlError("UNLOAD of anything but a SELECT query")
    if _outer_limit(tokens):
        raise RedshiftSqlError("The SELECT query can't use a LIMIT clause in the outer SELECT.")
    return translate_statement(query)


def _outer_limit(tokens: list[Token]) -> bool:
    """Whether LIMIT appears outside every parenthesis (a subquery's LIMIT is allowed)."""
    depth = 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and word(token) == "LIMIT":
            return True
    return False


def _set(statement: str, words: list[str]) -> Translation:
    name = words[2] if words[1:2] in (["SESSION"], ["LOCAL"]) else words[1] if len(words) > 1 else ""
    if name in _WLM_SETTINGS:
        return Translation("noop")
    return Translation("sql", statement)


def _lock(statement: str, tokens: list[Token]) -> str:
    names = tokens[2:] if word(tokens[1]) == "TABLE" else tokens[1:]
    if not names:
        raise UnsupportedSqlError("LOCK without a table")
    # Redshift's LOCK takes an exclusive lock, PostgreSQL's default mode for LOCK TABLE; table names
    # fold to lower case as every Redshift identifier does.
    return "LOCK TABLE " + span(statement, names).lower()


def _privileges(statement: str, tokens: list[Token]) -> str:
    """GRANT / REVOKE / ALTER DEFAULT PRIVILEGES without Redshift's ROLE keyword before role names.

    Redshift writes `TO ROLE r` and `GRANT ROLE r TO u`; in PostgreSQL a role is named bare. A
    database role is a role without LOGIN locally, a user one with LOGIN.
    """
    cuts = []
    for index, token in enumerate(tokens[1:-1], start=1):
        before, after = tokens[index - 1], tokens[index + 1]
        names_a_role = word(before) in ("GRANT", "REVOKE", "TO", "FROM", "FOR") or before.text == ","
        if (
            word(token) != "ROLE"
            or not names_a_role
            or word(after) in ("ON", "TO", "FROM")
            or after.text == ","
        ):
            continue
        if word(after) == "SYS" and index + 2 < len(tokens) and tokens[index + 2].text == ":":
            raise UnsupportedSqlError("Redshift system roles (sys:...)")
        cuts.append(token)
    pieces, position = [], 0
    for token in cuts:
        pieces.append(statement[position : token.start])
        position = token.end + 1
        while position < len(statement) and statement[position].isspace():
            position += 1
    pieces.append(statement[position:])
    return "".join(pieces)


def _is_routine(words: list[str]) -> bool:
    rest = words[1:]
    if rest[:2] == ["OR", "REPLACE"]:
        rest = rest[2:]
    return bool(rest) and rest[0] in ("PROCEDURE", "FUNCTION")


def _routine(statement: str, tokens: list[Token]) -> str:
    """CREATE PROCEDURE / FUNCTION: translate the body, keep the declaration."""
    language = next(
        (word(tokens[i + 1]) for i, t in enumerate(tokens[:-1]) if word(t) == "LANGUAGE"),
        "",
    )
    if any(word(token) == "NONATOMIC" for token in tokens):
        raise UnsupportedSqlError("NONATOMIC stored procedures")
    bodies = [
        t
        for t in tokens
        if t.token_type in (TokenType.HEREDOC_STRING, TokenType.STRING) and _after_as(tokens, t)
    ]
    if not bodies:
        raise UnsupportedSqlError("a routine without an AS $$ ... $$ body")
    body = bodies[0]
    if language == "PLPGSQL":
        translated = rewrite_body(body.text)
    elif language == "SQL":
        translated = translate_statement(body.text)
    else:
        raise UnsupportedSqlError(f"routines in LANGUAGE {language.lower() or '(none)'}")
    return statement[: body.start] + _dollar_quote(translated) + statement[body.end + 1 :]


def _after_as(tokens: list[Token], body: Token) -> bool:
    index = tokens.index(body)
    return index > 0 and word(tokens[index - 1]) == "AS"


def _dollar_quote(body: str) -> str:
    tag = "$$"
    counter = 0
    while tag in body:
        counter += 1
        tag = f"$rsetl{counter}$"
    return f"{tag}{body}{tag}"
