"""Redshift COPY from s3:// through PostgreSQL's COPY FROM STDIN.

Delimited files stream to PostgreSQL unparsed (decompressed on the fly), one COPY per file, all in
one transaction: a rejected row fails the statement with its file and line and loads nothing.
"""

from __future__ import annotations

import bz2
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import psycopg
from psycopg import sql
from sqlglot.tokens import Token, TokenType

from rsetl.objectstore import ObjectStore
from rsetl.redshift_sql.exceptions import LoadError, RedshiftSqlError, S3AccessError, UnsupportedSqlError
from rsetl.redshift_sql.lexer import find_closing, span, word
from rsetl.redshift_sql.load_errors import record_load_error
from rsetl.redshift_sql.options import FileOptions, OptionReader
from rsetl.redshift_sql.s3url import S3Url, get_object, list_objects, manifest_entries

_CHUNK = 1 << 20
_CONTEXT_LINE = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_JSONPATH_STEP = re.compile(r"\.([A-Za-z_][\w$]*)|\['([^']*)'\]|\[\"([^\"]*)\"\]|\[(\d+)\]")
_RAW_VALUE = re.compile(r', column [^:]+: "(.*)"$', re.DOTALL)
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
    reader = OptionReader("COPY", tokens, index + 1)
    for option in reader.options():
        if not reader.shared(option, command):
            _option(reader, option, command)
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


_Extract = Callable[[dict[str, Any]], list[Any]]


@dataclass(frozen=True)
class _Column:
    name: str
    is_text: bool
    is_identity: bool
    type_sql: str
    not_null: bool
    precision: int | None
    """Declared precision and scale of a NUMERIC(p, s) column; None for other types."""
    scale: int | None


def run_copy(conn: psycopg.Connection[Any], command: CopyCommand, store: ObjectStore) -> int:
    """Load every file of the COPY; return the rows loaded."""
    table_oid, columns = _target_columns(conn, command)
    extract = _json_extractor(command, columns, store) if command.format == "json" else None
    files = (
        manifest_entries(store, command.source) if command.manifest else list_objects(store, command.source)
    )
    loaded = 0
    current = files[0]
    body = b""
    # Line in the file of each row PostgreSQL numbers 1, 2, ... (JSON records may span lines).
    record_lines: list[int] = []
    try:
        with _atomic(conn), conn.cursor() as cursor:
            for current in files:
                body = get_object(store, current).body
                record_lines.clear()
                try:
                    if extract is not None:
                        loaded += _copy_json(cursor, command, columns, extract, body, current, record_lines)
                    else:
                        loaded += _copy_delimited(cursor, command, columns, body, current)
                except (zlib.error, OSError, EOFError, UnicodeDecodeError) as error:
                    raise LoadError(
                        command.table,
                        file=str(current),
                        line=None,
                        column=None,
                        reason=_unreadable(command, error),
                    ) from error
    except LoadError as rejected:
        record_load_error(
            conn,
            rejected,
            table_oid=table_oid,
            raw_line=_raw_line(body, command.compression, rejected.line),
            raw_value="",
        )
        raise
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
        # Only rejected data is a load error; cancellation and connection failures propagate as they are.
        load_error = _load_error(error, command, str(current), record_lines)
        if load_error is None:
            raise
        raw_value = _RAW_VALUE.search(error.diag.context or "")
        record_load_error(
            conn,
            load_error,
            table_oid=table_oid,
            raw_line=_raw_line(body, command.compression, load_error.line),
            raw_value=raw_value.group(1) if raw_value else "",
        )
        raise load_error from error
    return loaded


def _unreadable(command: CopyCommand, error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"invalid UTF-8 in the file: {error}"
    return f"the file is not valid {command.compression.upper()} data: {error}"


def _raw_line(body: bytes, compression: str, line: int | None) -> str:
    if line is None:
        return ""
    text = b"".join(bytes(chunk) for chunk in _decompress(body, compression))
    lines = text.split(b"\n", line)
    return lines[line - 1].rstrip(b"\r").decode("utf-8", "replace") if len(lines) >= line else ""


class _atomic:
    """A transaction for the COPY when the connection is in autocommit mode outside one."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.transaction = None
        if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.transaction = conn.transaction()

    def __enter__(self) -> None:
        if self.transaction is not None:
            self.transaction.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        if self.transaction is not None:
            self.transaction.__exit__(*exc_info)


def _target_columns(conn: psycopg.Connection[Any], command: CopyCommand) -> tuple[int, list[_Column]]:
    rows = conn.execute(
        "SELECT a.attname, t.typcategory = 'S', a.attidentity <> '', a.attrelid::int8,"
        " format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod >= 0"
        "      THEN ((a.atttypmod - 4) >> 16) & 65535 END,"
        " CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod >= 0 THEN (a.atttypmod - 4) & 65535 END"
        " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (command.table,),
    ).fetchall()
    available = {
        row[0]: _Column(row[0], bool(row[1]), bool(row[2]), row[4], bool(row[5]), row[6], row[7])
        for row in rows
    }
    table_oid = int(rows[0][3]) if rows else 0
    if command.columns is None:
        return table_oid, [
            column for column in available.values() if command.explicit_ids or not column.is_identity
        ]
    missing = [name for name in command.columns if name not in available]
    if missing:
        raise psycopg.errors.UndefinedColumn(
            f'column "{missing[0]}" of relation "{command.table}" does not exist'
        )
    return table_oid, [available[name] for name in command.columns]


# Redshift's load error reasons and codes (Load error reference) for what PostgreSQL words its own way.
_NOT_NULL = "Missing data for not-null field"
_RECORD_SHAPE_ERRORS = {
    "extra data after last expected column": ("Extra column(s) found", 1202),
    "missing data for column": ("Delimiter not found", 1214),
}
_DEFAULT_NULL = "\\N"
"""Redshift's default NULL AS string."""
_WHITESPACE = " \t\r\n\f\v"


def _copy_sql(command: CopyCommand, columns: list[_Column], fmt: str, target: sql.Composable) -> sql.Composed:
    """PostgreSQL's COPY for a file that holds no field Redshift reads differently from PostgreSQL."""
    options: list[sql.Composable] = [sql.SQL("FORMAT {}").format(sql.SQL(fmt))]
    if fmt != "text" or command.delimiter is not None:
        default = "," if command.format == "csv" else "|"
        options.append(sql.SQL("DELIMITER {}").format(sql.Literal(command.delimiter or default)))
    if fmt == "csv":
        # Redshift's delimited text has no quoting unless it is CSV; a control character no file
        # contains stands in for "no quote character".
        options.append(
            sql.SQL("QUOTE {}").format(sql.Literal(command.quote if command.format == "csv" else "\x01"))
        )
        options.append(sql.SQL("NULL ''"))
        text_columns = [sql.Identifier(c.name) for c in columns if c.is_text]
        if text_columns and not command.empty_as_null:
            # Empty CHAR/VARCHAR fields load as '' on Redshift (unless EMPTYASNULL); other types as NULL.
            options.append(sql.SQL("FORCE_NOT_NULL ({})").format(sql.SQL(", ").join(text_columns)))
    return sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
        target,
        sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        sql.SQL(", ").join(options),
    )


def _copy_delimited(
    cursor: psycopg.Cursor[Any], command: CopyCommand, columns: list[_Column], body: bytes, file: S3Url
) -> int:
    fmt = "text" if command.format == "text" and command.escape else "csv"
    data = body if command.compression == "none" else b"".join(_decompress(body, command.compression))
    chunks = _skip_lines(_decompress(data, "none"), command.ignore_header)
    if _read_alike(command, columns, data):
        return _stream(cursor, _copy_sql(command, columns, fmt, sql.SQL(command.table)), chunks)
    return _copy_staged(cursor, command, columns, fmt, chunks, file)


def _read_alike(command: CopyCommand, columns: list[_Column], data: bytes) -> bool:
    """Whether PostgreSQL's COPY reads every field of `data` as Redshift would (false negatives cost speed).

    Redshift, unlike PostgreSQL, loads `\\N` (or the NULL AS string), blank fields and, but for text
    columns, empty quoted fields as NULL, and truncates excess decimals; quoted blank and empty
    fields go to the stage too, so that EMPTYASNULL and BLANKSASNULL apply to them. Every scan
    starts from a literal, which keeps it at memchr speed.
    """
    # PostgreSQL's text format (ESCAPE) reads \\N as NULL itself.
    if command.null_as is not None or (not command.escape and _DEFAULT_NULL.encode() in data):
        return False
    delimiter = (command.delimiter or ("," if command.format == "csv" else "|")).encode()
    quote = command.quote.encode() if command.format == "csv" else None
    if _has_blank_field(data, delimiter, quote):
        return False
    scales = [column.scale for column in columns if column.scale is not None]
    return command.round_decimals or not scales or not _may_exceed_scale(data, min(scales))


_BLANK_BYTES = b" \t\f\v"


def _has_blank_field(data: bytes, delimiter: bytes, quote: bytes | None) -> bool:
    """Whether a field is blank (only white space), or quoted and empty or blank."""
    ends = (delimiter, b"\r", b"\n", b"")

    def blank_run_end(position: int) -> int:
        while position < len(data) and data[position] in _BLANK_BYTES:
            position += 1
        return position

    def starts_field(position: int) -> bool:
        return position == 0 or data[position - 1 : position] in (delimiter, b"\n")

    # Tabs, form feeds and vertical tabs are rare: look for blanks of them only where they occur.
    blanks = [blank for blank in _BLANK_BYTES if blank == 32 or bytes([blank]) in data]
    for blank in blanks:
        space = bytes([blank])
        if data[:1] == space and data[blank_run_end(0) : blank_run_end(0) + 1] in ends:
            return True
        for marker in (delimiter + space, b"\n" + space):
            position = data.find(marker)
            while position >= 0:
                end = blank_run_end(position + 1)
                if data[end : end + 1] in ends:
                    return True
                position = data.find(marker, position + 1)
    if quote is None or quote not in data:
        return False
    for marker in (quote + quote, *(quote + bytes([blank]) for blank in blanks)):
        position = data.find(marker)
        while position >= 0:
            end = blank_run_end(position + 1)
            if starts_field(position) and data[end : end + 1] == quote and data[end + 1 : end + 2] in ends:
                return True
            position = data.find(marker, position + 1)
    return False


def _stream(
    cursor: psycopg.Cursor[Any], statement: sql.Composed, chunks: Iterator[bytes | memoryview]
) -> int:
    with cursor.copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)
    return max(cursor.rowcount, 0)


def _may_exceed_scale(data: bytes, scale: int) -> bool:
    """Whether any field could have more decimals than `scale` (false positives only cost speed).

    A number has excess decimals only with more than `scale` digits after its point, or with a
    negative exponent (`5e-3`). Both scans start from a literal, which keeps them at memchr speed.
    """
    if re.search(rb"\.\d{%d}" % (scale + 1), data) is not None:
        return True
    for marker in (b"e-", b"E-"):
        position = data.find(marker)
        while position >= 0:
            before, after = data[position - 1 : position], data[position + 2 : position + 3]
            if before.isdigit() and after.isdigit():
                return True
            position = data.find(marker, position + 1)
    return False


def _copy_staged(
    cursor: psycopg.Cursor[Any],
    command: CopyCommand,
    columns: list[_Column],
    fmt: str,
    chunks: Iterator[bytes | memoryview],
    file: S3Url,
) -> int:
    """COPY every field as text into a stage, convert each as Redshift does, check, then insert.

    Redshift loads the NULL AS string (default `\\N`) as NULL; an empty field as '' into CHAR and
    VARCHAR (NULL with EMPTYASNULL) and as NULL into other types; a blank field as is into CHAR
    and VARCHAR (NULL with BLANKSASNULL) and as NULL into other types; and it truncates excess
    decimal digits (ROUNDEC rounds, as PostgreSQL's input does).
    """
    stage = sql.Identifier("rsetl_copy_stage")
    cursor.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}, rsetl_line bigserial) ON COMMIT DROP").format(
            stage, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c.name)) for c in columns)
        )
    )
    _stream(cursor, _stage_copy_sql(command, columns, fmt, stage), chunks)
    values = [_converted(command, column) for column in columns]
    _check_staged(cursor, command, columns, values, stage, file)
    cursor.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY rsetl_line").format(
            sql.SQL(command.table),
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
            sql.SQL(", ").join(
                _stored(command, column, value) for column, value in zip(columns, values, strict=True)
            ),
            stage,
        )
    )
    loaded = max(cursor.rowcount, 0)
    cursor.execute(sql.SQL("DROP TABLE {}").format(stage))
    return loaded


def _stage_copy_sql(
    command: CopyCommand, columns: list[_Column], fmt: str, stage: sql.Identifier
) -> sql.Composed:
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    default = "," if command.format == "csv" else "|"
    options = [
        sql.SQL("FORMAT {}").format(sql.SQL(fmt)),
        sql.SQL("DELIMITER {}").format(sql.Literal(command.delimiter or default)),
    ]
    if fmt == "csv":
        quote = command.quote if command.format == "csv" else "\x01"
        options.append(sql.SQL("QUOTE {}").format(sql.Literal(quote)))
        options.append(sql.SQL("FORCE_NOT_NULL ({})").format(names))
    return sql.SQL("COPY {} ({}) FROM STDIN ({})").format(stage, names, sql.SQL(", ").join(options))


def _converted(command: CopyCommand, column: _Column) -> sql.Composable:
    """The staged text of `column` as Redshift reads it: the text, or NULL."""
    field = sql.Identifier(column.name)
    blank = sql.SQL("btrim({}, {}) = ''").format(field, sql.Literal(_WHITESPACE))
    null_string = _DEFAULT_NULL if command.null_as is None else command.null_as
    nulls: list[sql.Composable] = [sql.SQL("{} = {}").format(field, sql.Literal(null_string))]
    if not column.is_text:
        nulls.append(blank)
    else:
        if command.empty_as_null:
            nulls.append(sql.SQL("{} = ''").format(field))
        if command.blanks_as_null:
            nulls.append(sql.SQL("{} <> '' AND {}").format(field, blank))
    return sql.SQL("CASE WHEN {} THEN NULL ELSE {} END").format(sql.SQL(" OR ").join(nulls), field)


def _stored(command: CopyCommand, column: _Column, value: sql.Composable) -> sql.Composable:
    return sql.SQL("({})::{}").format(_checked(command, column, value), sql.SQL(column.type_sql))


def _checked(command: CopyCommand, column: _Column, value: sql.Composable) -> sql.Composable:
    """The text PostgreSQL must accept as the column's type: the value, truncated for NUMERIC(p, s)."""
    if column.scale is None or command.round_decimals:
        return value
    # CASE evaluates the truncation only for a number; any other text is checked (and rejected) as is.
    return sql.SQL(
        "CASE WHEN pg_input_is_valid({v}, 'numeric') THEN trunc(({v})::numeric, {s})::text ELSE {v} END"
    ).format(v=value, s=sql.Literal(column.scale))


def _check_staged(
    cursor: psycopg.Cursor[Any],
    command: CopyCommand,
    columns: list[_Column],
    values: list[sql.Composable],
    stage: sql.Identifier,
    file: S3Url,
) -> None:
    """Raise the LoadError for the first staged line a column rejects, as Redshift names it."""
    checks: list[tuple[_Column, sql.Composable | None, sql.Composable]] = []
    for column, value in zip(columns, values, strict=True):
        checked = _checked(command, column, value)
        invalid = sql.SQL("{v} IS NOT NULL AND NOT pg_input_is_valid({v}, {t})").format(
            v=checked, t=sql.Literal(column.type_sql)
        )
        checks.append((column, checked, invalid))
        if column.not_null:
            checks.append((column, None, sql.SQL("{} IS NULL").format(value)))
    found = cursor.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("min(rsetl_line) FILTER (WHERE {})").format(c[2]) for c in checks),
            stage,
        )
    ).fetchone()
    failures = [(line, check) for line, check in zip(found or (), checks, strict=True) if line is not None]
    if not failures:
        return
    line, (column, rejected, _) = min(failures, key=lambda failure: failure[0])
    reason, code = _NOT_NULL, 1213
    if rejected is not None:
        code = 1200
        info = cursor.execute(
            sql.SQL("SELECT (pg_input_error_info({}, {})).message FROM {} WHERE rsetl_line = {}").format(
                rejected, sql.Literal(column.type_sql), stage, sql.Literal(line)
            )
        ).fetchone()
        reason = str(info[0]) if info else reason
    raise LoadError(
        command.table,
        file=str(file),
        line=line + command.ignore_header,
        column=column.name,
        reason=reason,
        code=code,
    )


def _decompress(body: bytes, compression: str) -> Iterator[bytes | memoryview]:
    view = memoryview(body)
    if compression == "none":
        for start in range(0, len(body), _CHUNK):
            yield view[start : start + _CHUNK]
        return
    if compression == "bzip2":
        yield bz2.decompress(body)
        return
    offset = 0
    while offset < len(body):
        # A gzip file may hold several members (concatenated gzip output); each is decompressed in turn.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while offset < len(body) and not inflater.eof:
            piece = view[offset : offset + _CHUNK]
            offset += len(piece)
            yield inflater.decompress(piece)
        yield inflater.flush()
        offset -= len(inflater.unused_data)


def _skip_lines(chunks: Iterator[bytes | memoryview], count: int) -> Iterator[bytes | memoryview]:
    pending = b""
    for chunk in chunks:
        if count <= 0:
            yield chunk
            continue
        pending += bytes(chunk)
        while count > 0:
            newline = pending.find(b"\n")
            if newline < 0:
                break
            pending = pending[newline + 1 :]
            count -= 1
        if count <= 0 and pending:
            yield pending
            pending = b""


def _json_extractor(command: CopyCommand, columns: list[_Column], store: ObjectStore) -> _Extract:
    """How one JSON record becomes the column values: by key ('auto') or by a JSONPaths file."""
    option = command.json_option
    names = [column.name for column in columns]
    if option.lower() == "auto":
        return lambda document: [document.get(name) for name in names]
    if option.lower() == "auto ignorecase":
        return lambda document: [
            {key.lower(): value for key, value in document.items()}.get(name) for name in names
        ]
    if not option.startswith("s3://"):
        raise UnsupportedSqlError(
            f"COPY JSON '{option}'", "use 'auto', 'auto ignorecase' or an s3:// JSONPaths file"
        )
    url = S3Url.parse(option, "COPY")
    try:
        paths = json.loads(get_object(store, url).body)["jsonpaths"]
    except (ValueError, KeyError, TypeError) as error:
        raise S3AccessError(f"invalid JSONPaths file {url}: {error}") from error
    if len(paths) != len(columns):
        raise RedshiftSqlError(
            f"Number of jsonpaths and the number of columns should match. JSONPath size: {len(paths)},"
            f" Number of columns in table or column list: {len(columns)}"
        )
    steps = [_jsonpath_steps(str(path)) for path in paths]
    return lambda document: [_walk(document, path) for path in steps]


def _jsonpath_steps(path: str) -> list[str | int]:
    """`$.a.b`, `$['a']`, `$["a"]`, `$.a[0]` as a list of keys and indexes."""
    if not path.startswith("$"):
        raise UnsupportedSqlError(f"JSONPath expression {path!r}", "paths start with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _JSONPATH_STEP.match(path, position)
        if match is None:
            raise UnsupportedSqlError(
                f"JSONPath expression {path!r}", "only .name, ['name'] and [index] steps"
            )
        name, quoted, double_quoted, index = match.groups()
        steps.append(int(index) if index is not None else name or quoted or double_quoted or "")
        position = match.end()
    return steps


def _walk(document: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict):
            document = document.get(step)
        else:
            return None
    return document


def _copy_json(
    cursor: psycopg.Cursor[Any],
    command: CopyCommand,
    columns: list[_Column],
    extract: _Extract,
    body: bytes,
    file: S3Url,
    record_lines: list[int],
) -> int:
    text = b"".join(_decompress(body, command.compression)).decode("utf-8")
    names = [column.name for column in columns]
    scales = [None if command.round_decimals else column.scale for column in columns]
    decoder = json.JSONDecoder()
    position = last = 0
    record = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.SQL(command.table), sql.SQL(", ").join(sql.Identifier(name) for name in names)
    )
    with cursor.copy(statement) as copy:
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            line = (record_lines[-1] if record_lines else 1) + text.count("\n", last, position)
            last = position
            try:
                document, position = decoder.raw_decode(text, position)
            except ValueError as error:
                raise LoadError(
                    command.table, file=str(file), line=line, column=None, reason=f"invalid JSON: {error}"
                ) from error
            if not isinstance(document, dict):
                raise LoadError(
                    command.table,
                    file=str(file),
                    line=line,
                    column=None,
                    reason="a JSON record must be an object",
                )
            record += 1
            record_lines.append(line)
            values = [_json_value(value) for value in extract(document)]
            copy.write_row([_truncate(value, scale) for value, scale in zip(values, scales, strict=True)])
    return record


def _truncate(value: str | None, scale: int | None) -> str | None:
    """Cut a numeric text to `scale` decimals, as Redshift's COPY does without ROUNDEC."""
    if value is None or scale is None:
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value  # not a number: PostgreSQL rejects it with the column named
    if not number.is_finite():
        return value
    return str(number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN))


def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _load_error(
    error: psycopg.Error, command: CopyCommand, file: str, record_lines: list[int]
) -> LoadError | None:
    match = _CONTEXT_LINE.search(error.diag.context or "")
    if match is None:
        return None
    number = int(match.group(1))
    if command.format == "json":
        line = record_lines[number - 1] if 0 < number <= len(record_lines) else None
    else:
        line = number + command.ignore_header
    if isinstance(error, psycopg.errors.NotNullViolation):
        return LoadError(
            command.table, file=file, line=line, column=error.diag.column_name, reason=_NOT_NULL, code=1213
        )
    reason = error.diag.message_primary or str(error)
    for pattern, (redshift_reason, code) in _RECORD_SHAPE_ERRORS.items():
        if reason.startswith(pattern):
            return LoadError(
                command.table, file=file, line=line, column=match.group(2), reason=redshift_reason, code=code
            )
    return LoadError(command.table, file=file, line=line, column=match.group(2), reason=reason)
