"""What a COPY reads: the files' bytes (decompressed, header lines skipped) and the target table's
columns."""

from __future__ import annotations

import bz2
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from rsetl.redshift_sql.copy_command import CopyCommand

_CHUNK = 1 << 20
NOT_NULL = "Missing data for not-null field"
"""Redshift's load error reason (code 1213) for a NULL in a NOT NULL column."""


@dataclass(frozen=True)
class Column:
    """A column the COPY loads, as the catalog declares it."""

    name: str
    is_text: bool
    is_identity: bool
    type_sql: str
    not_null: bool
    precision: int | None
    """Declared precision and scale of a NUMERIC(p, s) column; None for other types."""
    scale: int | None


def target_columns(conn: psycopg.Connection[Any], command: CopyCommand) -> tuple[int, list[Column]]:
    """The target table's OID and the columns the COPY loads, in its column list's order."""
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
        row[0]: Column(row[0], bool(row[1]), bool(row[2]), row[4], bool(row[5]), row[6], row[7])
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


def decompress(body: bytes, compression: str) -> Iterator[bytes | memoryview]:
    """The file's bytes in chunks, decompressed as they are read."""
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


def skip_lines(chunks: Iterator[bytes | memoryview], count: int) -> Iterator[bytes | memoryview]:
    """`chunks` without their first `count` lines (IGNOREHEADER)."""
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


def raw_line(body: bytes, compression: str, line: int | None) -> str:
    """Line `line` of the file, for STL_LOAD_ERRORS' raw_line ('' without a line)."""
    if line is None:
        return ""
    text = b"".join(bytes(chunk) for chunk in decompress(body, compression))
    lines = text.split(b"\n", line)
    return lines[line - 1].rstrip(b"\r").decode("utf-8", "replace") if len(lines) >= line else ""


def unreadable(command: CopyCommand, error: Exception) -> str:
    """The load error's reason for a file that cannot be decompressed or decoded."""
    if isinstance(error, UnicodeDecodeError):
        return f"invalid UTF-8 in the file: {error}"
    return f"the file is not valid {command.compression.upper()} data: {error}"
