"""Translation of procedural code: stored procedure bodies and CALL arguments.

PL/pgSQL is Redshift's procedure language too, so bodies keep their structure. Their SQL
statements (INSERT, UPDATE, DELETE, MERGE, SELECT ... INTO) go through the statement translator;
what it cannot read as SQL, and every other procedural statement, is rewritten token by token:
compat function calls, datepart keywords, NVL, LISTAGG ... WITHIN GROUP, SYSDATE, `LOCK t` and the
physical attributes of CREATE TABLE.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.ddl import strip_physical_attributes
from rsetl.redshift_sql.dialect import COMPAT_FUNCTIONS, translate_statement
from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.lexer import find_closing, is_name, quote_literal, tokenize, word

COMPAT_SCHEMA_PREFIX = "rsetl_compat."

# Words after which a new procedural statement starts.
_STATEMENT_STARTS = {TokenType.SEMICOLON, TokenType.BEGIN}
_STATEMENT_START_WORDS = {"THEN", "ELSE", "LOOP", "BEGIN", "DECLARE"}


# Embedded SQL statements the statement translator handles.
_SQL_STATEMENTS = {"INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "WITH"}
# Failures that only mean "not plain SQL" (PL/pgSQL syntax): the token-level rewrite handles those.
_NOT_SQL = ("syntax the Redshift parser cannot read", "statement ")
_INTO_TARGET_END = {"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "WINDOW", "OFFSET"}


def rewrite_body(body: str) -> str:
    """Translate a PL/pgSQL body written for Redshift."""
    return rewrite_expressions(_translate_embedded_sql(_rewrite_ddl(body)))


def _translate_embedded_sql(body: str) -> str:
    tokens = tokenize(body)
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if word(token) not in _SQL_STATEMENTS or not _starts_statement(tokens, index):
            continue
        end = next(
            (later for later in range(index, len(tokens)) if tokens[later].token_type == TokenType.SEMICOLON),
            len(tokens),
        )
        translated = _translate_embedded_statement(body, tokens[index:end])
        if translated is not None:
            edits.append((token.start, tokens[end - 1].end, translated))
    return _apply(body, edits)


def _translate_embedded_statement(body: str, tokens: list[Token]) -> str | None:
    """The statement translated, or None when it is not plain SQL (left to the token rewrite)."""
    statement = body[tokens[0].start : tokens[-1].end + 1]
    targets_at = _variable_intos(tokens)
    if len(targets_at) > 1 or (targets_at and word(tokens[0]) not in ("SELECT", "WITH")):
        return None  # e.g. INSERT ... RETURNING ... INTO v: PL/pgSQL syntax the token rewrite keeps
    into = targets_at[0] if targets_at else None
    if into is not None:
        first, last = into
        targets = body[tokens[first].start : tokens[last].end + 1]
        statement = (
            body[tokens[0].start : tokens[first].start] + body[tokens[last].end + 1 : tokens[-1].end + 1]
        )
    try:
        translated = translate_statement(statement)
    except UnsupportedSqlError as error:
        if error.construct.startswith(_NOT_SQL):
            return None
        raise
    return translated if into is None else _insert_into(translated, targets)


def _variable_intos(tokens: list[Token]) -> list[tuple[int, int]]:
    """Token ranges of each top-level `INTO [STRICT] variable[, ...]` (not INSERT INTO / MERGE INTO)."""
    found = []
    depth = 0
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif (
            depth == 0
            and word(token) == "INTO"
            and index
            and word(tokens[index - 1]) not in ("INSERT", "MERGE")
        ):
            last = index
            while last + 1 < len(tokens) and word(tokens[last + 1]) not in _INTO_TARGET_END:
                last += 1
            found.append((index, last))
    return found


def _insert_into(translated: str, targets: str) -> str:
    """Put `INTO targets` back before the first top-level FROM (a SELECT without FROM: at the end)."""
    depth = 0
    for token in tokenize(translated):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and word(token) == "FROM":
            return f"{translated[: token.start]}{targets} {translated[token.start :]}"
    return f"{translated} {targets}"


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
