"""A SQL text lexed once: its statements, the `:name` parameters it references, whether it leaves
session state behind, and, with its parameter values, the translations the runner executes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.exceptions import ParameterError, RedshiftSqlError, UnsupportedSqlError
from rsetl.redshift_sql.lexer import check_parameters, placeholders, split_tokens, tokenize, word
from rsetl.redshift_sql.text_cache import TextCache
from rsetl.redshift_sql.translate import Translation, translate_cached

_SESSION_COMMANDS = {"SET", "PREPARE", "DECLARE", "LISTEN", "LOCK", "CALL"}
"""Statements that leave state on their connection (settings, prepared statements, cursors,
listeners, locks held by an open transaction); a procedure may do any of these."""
_SESSION_WORDS = {"TEMP", "TEMPORARY", "SET_CONFIG"}
"""Words that create session state anywhere in a statement (temp tables, settings)."""


@dataclass(frozen=True)
class SqlStatement:
    """One statement of a SQL text: its text and tokens (positions index into `text`)."""

    text: str
    tokens: tuple[Token, ...]

    @property
    def touches_session(self) -> bool:
        """Whether it may leave session state (temp tables, `#name` tables, settings...) behind."""
        if word(self.tokens[0]) in _SESSION_COMMANDS:
            return True
        # `#name` tables are Redshift temp tables.
        return any(word(token) in _SESSION_WORDS or word(token).startswith("#") for token in self.tokens)


@dataclass(frozen=True)
class SqlScript:
    """A SQL text as the Data API receives it, lexed once (`parse_script`)."""

    text: str
    statements: tuple[SqlStatement, ...] = ()
    placeholders: tuple[tuple[int, int, int, str], ...] = ()
    """(statement index, start, end, name) of each `:name` placeholder, positions in its statement."""
    error: RedshiftSqlError | None = None
    """Why the text cannot be lexed; raised when it is prepared (the statement runs and fails)."""

    @property
    def parameters(self) -> frozenset[str]:
        """The `:name` parameters the text references."""
        return frozenset(name for _, _, _, name in self.placeholders)

    @property
    def touches_session(self) -> bool:
        """Whether running it may leave session state on its connection."""
        return any(statement.touches_session for statement in self.statements)

    @property
    def changes_isolation(self) -> bool:
        """Whether it sets a database's isolation level (connections opened before keep the old one)."""
        return any(
            [word(t) for t in statement.tokens[:2]] in (["CREATE", "DATABASE"], ["ALTER", "DATABASE"])
            and any(word(t) == "ISOLATION" for t in statement.tokens)
            for statement in self.statements
        )


_SCRIPTS: TextCache[SqlScript] = TextCache()
"""Lexed texts by text: the Data API receives the same statements over and over."""


def parse_script(sql: str) -> SqlScript:
    """Lex `sql` once (a text seen lately, not again); a text the lexer cannot read carries its error
    instead of statements."""
    return _SCRIPTS.get(sql, lambda: _lex_script(sql))


def _lex_script(sql: str) -> SqlScript:
    try:
        tokens = tokenize(sql)
    except RedshiftSqlError as error:
        return SqlScript(sql, error=error)
    statements: list[SqlStatement] = []
    found: list[tuple[int, int, int, str]] = []
    for piece in split_tokens(tokens):
        offset = piece[0].start
        text = sql[offset : piece[-1].end + 1]
        rebased = tuple(_moved(token, -offset) for token in piece)
        found += [(len(statements), *place) for place in placeholders(rebased)]
        statements.append(SqlStatement(text, rebased))
    return SqlScript(sql, tuple(statements), tuple(found))


def prepare_script(
    script: SqlScript, parameters: Mapping[str, str] | None
) -> tuple[list[Translation], list[str]]:
    """The translations of the script's statements, `:name` parameters bound as `$n` placeholders,
    and the values to bind to them, in order.

    The values travel to the database as data (a server-side bind), never as SQL text; typed
    `unknown`, PostgreSQL infers their type from context like Redshift's implicit conversion of
    the Data API's string values. Raises ParameterError, UnsupportedSqlError or RedshiftSqlError.
    """
    statements, values = bind_parameters(script, parameters)
    if not statements:
        raise UnsupportedSqlError("an empty SQL text")
    if values and len(statements) > 1:
        # Redshift parses a parameterized text as one prepared statement and refuses more.
        raise RedshiftSqlError("cannot insert multiple commands into a prepared statement")
    return [translate_cached(s.text, s.tokens) for s in statements], values


def bind_parameters(
    script: SqlScript, parameters: Mapping[str, str] | None
) -> tuple[list[SqlStatement], list[str]]:
    """The statements with each `:name` replaced by a `$n` placeholder, and the values to bind, in
    order; every referenced name must be supplied and every supplied name used."""
    supplied = dict(parameters or {})
    check_parameters(supplied)
    if script.error is not None:
        raise script.error
    missing = sorted(name for name in script.parameters if name not in supplied)
    if missing:
        raise ParameterError(f"parameter {', '.join(missing)} is referenced but has no value")
    order: list[str] = []
    for _, _, _, name in script.placeholders:
        if name not in order:
            order.append(name)
    unused = sorted(set(supplied) - set(order))
    if unused:
        raise ParameterError(f"parameter {', '.join(unused)} is supplied but not used in the SQL")
    statements = [
        _bound(statement, [p for p in script.placeholders if p[0] == index], order)
        for index, statement in enumerate(script.statements)
    ]
    return statements, [supplied[name] for name in order]


def _bound(
    statement: SqlStatement, marks: Sequence[tuple[int, int, int, str]], order: list[str]
) -> SqlStatement:
    """The statement with each `:name` replaced by its `$n` placeholder, its tokens to match."""
    if not marks:
        return statement
    text, tokens = statement.text, statement.tokens
    pieces: list[str] = []
    bound: list[Token] = []
    cursor = shift = 0
    index = 0
    for _, start, end, name in marks:
        number = str(order.index(name) + 1)
        while tokens[index].start < start:
            bound.append(_moved(tokens[index], shift))
            index += 1
        pieces += [text[cursor:start], "$", number]
        position = start + shift
        bound.append(Token(TokenType.PARAMETER, "$", start=position, end=position))
        bound.append(Token(TokenType.NUMBER, number, start=position + 1, end=position + len(number)))
        index += 2
        shift += 1 + len(number) - (end - start)
        cursor = end
    bound += [_moved(token, shift) for token in tokens[index:]]
    pieces.append(text[cursor:])
    return SqlStatement("".join(pieces), tuple(bound))


def _moved(token: Token, shift: int) -> Token:
    if not shift:
        return token
    return Token(
        token.token_type,
        token.text,
        token.line,
        token.col,
        token.start + shift,
        token.end + shift,
        token.comments,
    )
