"""Tokens of Redshift SQL (sqlglot's tokenizer) and the text-level operations built on them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.exceptions import ParameterError, UnsupportedSqlError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUOTED = {TokenType.STRING, TokenType.IDENTIFIER, TokenType.HEREDOC_STRING, TokenType.NATIONAL_STRING}


class _Tokenizer(Redshift.Tokenizer):
    # sqlglot swallows the rest of a "command" statement (UNLOAD, SHOW, ...) into one string token;
    # the layer parses those statements itself, so every word must come out as its own token.
    COMMANDS = set()


_DIALECT = Redshift()


def tokenize(sql: str) -> list[Token]:
    """Tokens of `sql`; comments are dropped, positions (`start`, `end` inclusive) index into `sql`."""
    try:
        return _Tokenizer(dialect=_DIALECT).tokenize(sql)
    except TokenError as error:
        raise UnsupportedSqlError("SQL text the tokenizer cannot read", str(error)) from error


def word(token: Token) -> str:
    """The upper-cased text of an unquoted token, or '' for strings and quoted identifiers."""
    return "" if token.token_type in _QUOTED else token.text.upper()


def is_name(token: Token) -> bool:
    """Whether the token can be an unquoted name (a keyword used as a name included)."""
    return token.token_type not in _QUOTED and bool(_NAME.match(token.text))


def quote_literal(value: str) -> str:
    """A standard-conforming SQL string literal."""
    if "\x00" in value:
        raise ParameterError("parameter values cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def split_statements(sql: str) -> list[str]:
    """The statements of a script, split at top-level semicolons (strings and `$$` bodies kept whole)."""
    statements: list[str] = []
    start: Token | None = None
    last: Token | None = None
    for token in tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            if start is not None and last is not None:
                statements.append(sql[start.start : last.end + 1])
            start = last = None
            continue
        if start is None:
            start = token
        last = token
    if start is not None and last is not None:
        statements.append(sql[start.start : last.end + 1])
    return statements


def _bound_value(value: str) -> str:
    r"""`value` as SQL text that reads back as exactly `value`, whatever it holds.

    The Data API binds a parameter as a value, never as SQL text. Redshift's dialect reads a
    backslash in a literal as an escape (so `\'` would end the literal early) and PostgreSQL
    does not, so a value with backslashes is spelt with CHR(92) between plain literals.
    """
    if "\\" not in value:
        return quote_literal(value)
    return "(" + " || CHR(92) || ".join(quote_literal(part) for part in value.split("\\")) + ")"


def bind_parameters(sql: str, parameters: Mapping[str, str] | None) -> str:
    """Replace each `:name` with its value as a string literal, as the Data API binds parameters.

    Values are typed by PostgreSQL from context like Redshift's implicit conversion of the
    Data API's string values. Every referenced name must be supplied and every supplied name used.
    """
    supplied = dict(parameters or {})
    for name, value in supplied.items():
        if not _NAME.match(name):
            raise ParameterError(f"invalid parameter name: {name!r}")
        if not isinstance(value, str):
            raise ParameterError(f"parameter {name!r} must be a string value")
    pieces: list[str] = []
    used: set[str] = set()
    missing: list[str] = []
    cursor = 0
    for start, end, name in _placeholders(sql):
        if name not in supplied:
            missing.append(name)
            continue
        used.add(name)
        pieces.append(sql[cursor:start])
        pieces.append(_bound_value(supplied[name]))
        cursor = end
    if missing:
        raise ParameterError(f"parameter {', '.join(sorted(set(missing)))} is referenced but has no value")
    unused = sorted(set(supplied) - used)
    if unused:
        raise ParameterError(f"parameter {', '.join(unused)} is supplied but not used in the SQL")
    pieces.append(sql[cursor:])
    return "".join(pieces)


def referenced_parameters(sql: str) -> set[str]:
    """The `:name` parameters a statement references (a batch passes each statement only these)."""
    return {name for _, _, name in _placeholders(sql)}


def _placeholders(sql: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each `:name` placeholder; `::` casts and array slices are not ones."""
    found = []
    tokens = tokenize(sql)
    for index, token in enumerate(tokens[:-1]):
        following = tokens[index + 1]
        if token.token_type != TokenType.COLON or following.start != token.end + 1 or not is_name(following):
            continue
        previous = tokens[index - 1] if index > 0 else None
        if (
            previous is not None
            and previous.end == token.start - 1
            and previous.token_type in (TokenType.R_BRACKET, TokenType.NUMBER)
        ):
            continue
        found.append((token.start, following.end + 1, following.text))
    return found


def span(sql: str, tokens: Sequence[Token]) -> str:
    """The source text from the first to the last of `tokens`."""
    return sql[tokens[0].start : tokens[-1].end + 1] if tokens else ""


def find_closing(tokens: Sequence[Token], open_index: int) -> int:
    """Index of the parenthesis closing the one at `open_index`."""
    depth = 0
    for index in range(open_index, len(tokens)):
        kind = tokens[index].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return index
    raise UnsupportedSqlError("unbalanced parentheses")
