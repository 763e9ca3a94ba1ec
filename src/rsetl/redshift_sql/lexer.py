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
    return "'" + value.replace("'", "''") + "'"


def split_statements(sql: str) -> list[str]:
    """The statements of a script, split at top-level semicolons (strings and `$$` bodies kept whole)."""
    return [sql[piece[0].start : piece[-1].end + 1] for piece in split_tokens(tokenize(sql))]


def split_tokens(tokens: Sequence[Token]) -> list[list[Token]]:
    """The tokens of each statement, split at top-level semicolons; empty statements dropped."""
    pieces: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append([])
        else:
            pieces[-1].append(token)
    return [piece for piece in pieces if piece]


def check_parameters(supplied: Mapping[str, object]) -> None:
    """Each Data API parameter a plain name with a string value the database can take."""
    for name, value in supplied.items():
        if not _NAME.match(name):
            raise ParameterError(f"invalid parameter name: {name!r}")
        if not isinstance(value, str):
            raise ParameterError(f"parameter {name!r} must be a string value")
        if "\x00" in value:
            raise ParameterError("parameter values cannot contain NUL characters")


def placeholders(tokens: Sequence[Token]) -> list[tuple[int, int, str]]:
    """(start, end, name) of each `:name` placeholder; `::` casts and array slices are not ones."""
    found = []
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
