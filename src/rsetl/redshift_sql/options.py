"""The options of COPY and UNLOAD, read by one reader: the ones both take are applied here.

COPY ("Data conversion parameters", "Data format parameters",
https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html) and UNLOAD
(https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html) write options the same way:
a keyword, an optional AS, and a quoted or numeric value where the option takes one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.lexer import word

CREDENTIAL_OPTIONS = {
    "IAM_ROLE",
    "CREDENTIALS",
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
    "SESSION_TOKEN",
    "REGION",
}
"""Options that name credentials or the bucket's region: accepted, no local effect."""


@dataclass(kw_only=True)
class FileOptions:
    """What COPY and UNLOAD share: the files' format and how their values are written."""

    format: Literal["csv", "text", "json"] = "text"
    delimiter: str | None = None
    null_as: str | None = None
    compression: Literal["none", "gzip", "bzip2"] = "none"
    escape: bool = False
    ignored: list[str] = field(default_factory=list)
    """Options accepted without a local effect, in order."""


Options = TypeVar("Options", bound=FileOptions)


class OptionReader:
    """Reads the options of `command` (COPY or UNLOAD) from `tokens`, starting at `index`."""

    def __init__(self, command: str, tokens: Sequence[Token], index: int) -> None:
        self.command = command
        self.tokens = tokens
        self.index = index

    def options(self) -> Iterator[str]:
        """Each option keyword in turn; the caller reads its value before asking for the next."""
        while self.index < len(self.tokens):
            yield self.next_word()

    def next_word(self) -> str:
        token = self.tokens[self.index]
        self.index += 1
        return word(token) or token.text

    def peek(self) -> str:
        return word(self.tokens[self.index]) if self.index < len(self.tokens) else ""

    def take(self, *words: str) -> str:
        """The next word when it is one of `words` (consumed), else ''."""
        following = self.peek()
        if following and following in words:
            self.index += 1
            return following
        return ""

    def value(self, option: str) -> str:
        """The quoted or numeric value of `option`, after an optional AS (IAM_ROLE may be DEFAULT)."""
        self.take("AS")
        if self.index >= len(self.tokens) or self.tokens[self.index].token_type not in (
            TokenType.STRING,
            TokenType.NUMBER,
        ):
            if option == "IAM_ROLE" and self.take("DEFAULT"):
                return "default"
            raise UnsupportedSqlError(f"{self.command} option {option} without a value")
        value = self.tokens[self.index].text
        self.index += 1
        return value

    def read_into(self, into: Options, own: Callable[[OptionReader, str, Options], None]) -> None:
        """Apply every option to `into`: those both commands take alike here, the command's own by `own`."""
        for option in self.options():
            if not self.shared(option, into):
                own(self, option, into)

    def shared(self, option: str, into: FileOptions) -> bool:
        """Apply `option` when both commands take it alike; False when it is not one of those."""
        if option in CREDENTIAL_OPTIONS:
            self.value(option)
            into.ignored.append(option)
        elif option == "FORMAT":
            # FORMAT [AS] only introduces the format keyword that follows.
            self.take("AS")
            if self.index >= len(self.tokens):
                raise UnsupportedSqlError(f"{self.command} option FORMAT without a format")
        elif option == "CSV":
            into.format = "csv"
        elif option == "DELIMITER":
            into.delimiter = self.value(option)
        elif option == "NULL":
            into.null_as = self.value(option)
        elif option == "GZIP":
            into.compression = "gzip"
        elif option == "BZIP2":
            into.compression = "bzip2"
        elif option == "ESCAPE":
            into.escape = True
        else:
            return False
        return True
