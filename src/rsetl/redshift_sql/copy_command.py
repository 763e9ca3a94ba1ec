"""Redshift COPY as parsed: the table, its columns, the s3:// source and the options COPY takes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokens import Token, TokenType

from rsetl.redshift_sql.exceptions import RedshiftSqlError, UnsupportedSqlError
from rsetl.redshift_sql.lexer import find_closing, span, word
from rsetl.redshift_sql.options import FileOptions, OptionReader
from rsetl.redshift_sql.s3url import S3Url

_IGNORED_FLAGS = {"COMPUPDATE", "STATUPDATE"}
"""Options that only tune Redshift's loader: accepted, no local effect."""
_FLAGS = {
    "EMPTYASNULL": "empty_as_null",
    "BLANKSASNULL": "blanks_as_null",
    "MANIFEST": "manifest",
    "ROUNDEC": "round_decimals",
    "EXPLICIT_IDS": "explicit_ids",
}
"""COPY's options without a value, and the `CopyCommand` field each sets."""
_DATE_FORMATS = {"AUTO", "YYYY-MM-DD", "MM/DD/YYYY", "YYYYMMDD"}
_TIME_FORMATS = {"AUTO", "YYYY-MM-DD HH:MI:SS", "YYYY-MM-DD HH24:MI:SS", "YYYY-MM-DDTHH:MI:SS"}


@dataclass
class CopyCommand(FileOptions):
    """A parsed Redshift COPY."""

    table: str
    columns: list[str] | None
    source: S3Url
    quote: str = '"'
    quote_given: bool = False
    ignore_header: int = 0
    manifest: bool = False
    json_option: str = "auto"
    empty_as_null: bool = False
    blanks_as_null: bool = False
    explicit_ids: bool = False
    round_decimals: bool = False


def parse_copy(statement: str, tokens: list[Token]) -> CopyCommand:
    """Parse `COPY table [(columns)] FROM 's3://...' [options]`."""
    index = 1
    start = index
    while (
        index < len(tokens)
        and word(tokens[index]) != "FROM"
        and tokens[index].token_type != TokenType.L_PAREN
    ):
        index += 1
    if index == start:
        raise UnsupportedSqlError("COPY without a table name")
    # Redshift folds identifiers, quoted ones included, to lower case.
    table = span(statement, tokens[start:index]).lower()
    columns = None
    if index < len(tokens) and tokens[index].token_type == TokenType.L_PAREN:
        close = find_closing(tokens, index)
        columns = [_column_name(t) for t in tokens[index + 1 : close] if t.token_type != TokenType.COMMA]
        index = close + 1
    if index >= len(tokens) or word(tokens[index]) != "FROM":
        raise UnsupportedSqlError("COPY ... TO", "COPY loads only; use UNLOAD to write files")
    index += 1
    if index >= len(tokens) or tokens[index].token_type != TokenType.STRING:
        raise UnsupportedSqlError("COPY from anything but an 's3://...' string")
    command = CopyCommand(table=table, columns=columns, source=S3Url.parse(tokens[index].text, "COPY"))
    OptionReader("COPY", tokens, index + 1).read_into(command, _option)
    _check_combination(command)
    return command


def _check_combination(command: CopyCommand) -> None:
    """Refuse what Redshift refuses together, and conversions the layer does not apply to JSON."""
    if command.format == "csv" and command.escape:
        raise RedshiftSqlError("CSV can't be used with FIXEDWIDTH, REMOVEQUOTES, or ESCAPE")
    if command.format != "csv" and command.quote_given:
        raise RedshiftSqlError("The QUOTE parameter can be used only with the CSV parameter")
    if command.format == "json":
        for option, given in (
            ("EMPTYASNULL", command.empty_as_null),
            ("BLANKSASNULL", command.blanks_as_null),
            ("NULL AS", command.null_as is not None),
        ):
            if given:
                raise UnsupportedSqlError(f"COPY JSON with {option}")


def _column_name(token: Token) -> str:
    # Redshift folds quoted and unquoted identifiers alike to lower case.
    return token.text.lower()


def _option(reader: OptionReader, option: str, command: CopyCommand) -> None:
    """Apply one of the options only COPY takes."""
    if option in _IGNORED_FLAGS:
        reader.take("ON", "OFF", "TRUE", "FALSE", "PRESET")
        command.ignored.append(option)
    elif option == "QUOTE":
        command.quote = reader.value(option)
        command.quote_given = True
    elif option == "JSON":
        command.format = "json"
        command.json_option = reader.value(option)
    elif option == "IGNOREHEADER":
        command.ignore_header = int(reader.value(option))
    elif option in _FLAGS:
        setattr(command, _FLAGS[option], True)
    elif option == "DATEFORMAT":
        _check_format(option, reader.value(option), _DATE_FORMATS)
    elif option == "TIMEFORMAT":
        _check_format(option, reader.value(option), _TIME_FORMATS)
    elif option == "ENCODING":
        reader.take("AS")
        encoding = reader.next_word()
        if encoding.upper() not in ("UTF8", "UTF-8"):
            raise UnsupportedSqlError(f"COPY ENCODING {encoding}")
    elif option == "MAXERROR":
        if int(reader.value(option)) != 0:
            raise UnsupportedSqlError("COPY MAXERROR above 0", "every rejected row fails the load")
    else:
        raise UnsupportedSqlError(f"COPY option {option}")


def _check_format(option: str, value: str, allowed: set[str]) -> None:
    if value.upper() not in allowed:
        raise UnsupportedSqlError(f"COPY {option} '{value}'", f"supported: {', '.join(sorted(allowed))}")
