"""COPY of delimited text: straight through PostgreSQL's COPY when it reads every field as Redshift does,
else through a stage where each field is converted as Redshift converts it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from rsetl.redshift_sql.copy_command import CopyCommand
from rsetl.redshift_sql.copy_input import NOT_NULL, Column, decompress, skip_lines
from rsetl.redshift_sql.exceptions import LoadError
from rsetl.redshift_sql.s3url import S3Url

_DEFAULT_NULL = "\\N"
"""Redshift's default NULL AS string."""
_WHITESPACE = " \t\r\n\f\v"


def _copy_sql(command: CopyCommand, columns: list[Column], fmt: str, target: sql.Composable) -> sql.Composed:
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


def copy_delimited(
    cursor: psycopg.Cursor[Any], command: CopyCommand, columns: list[Column], body: bytes, file: S3Url
) -> int:
    """Load one delimited file; return its rows."""
    fmt = "text" if command.format == "text" and command.escape else "csv"
    data = body if command.compression == "none" else b"".join(decompress(body, command.compression))
    chunks = skip_lines(decompress(data, "none"), command.ignore_header)
    if _read_alike(command, columns, data):
        return _stream(cursor, _copy_sql(command, columns, fmt, sql.SQL(command.table)), chunks)
    return _copy_staged(cursor, command, columns, fmt, chunks, file)


def _read_alike(command: CopyCommand, columns: list[Column], data: bytes) -> bool:
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
    columns: list[Column],
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
    command: CopyCommand, columns: list[Column], fmt: str, stage: sql.Identifier
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


def _converted(command: CopyCommand, column: Column) -> sql.Composable:
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


def _stored(command: CopyCommand, column: Column, value: sql.Composable) -> sql.Composable:
    return sql.SQL("({})::{}").format(_checked(command, column, value), sql.SQL(column.type_sql))


def _checked(command: CopyCommand, column: Column, value: sql.Composable) -> sql.Composable:
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
    columns: list[Column],
    values: list[sql.Composable],
    stage: sql.Identifier,
    file: S3Url,
) -> None:
    """Raise the LoadError for the first staged line a column rejects, as Redshift names it."""
    checks: list[tuple[Column, sql.Composable | None, sql.Composable]] = []
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
    reason, code = NOT_NULL, 1213
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
