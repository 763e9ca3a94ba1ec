"""Redshift COPY from s3:// through PostgreSQL's COPY FROM STDIN.

Delimited files stream to PostgreSQL unparsed (decompressed on the fly), one COPY per file, all in
one transaction: a rejected row fails the statement with its file and line and loads nothing.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import psycopg

from rsetl.objectstore import ObjectStore
from rsetl.redshift_sql.copy_command import CopyCommand
from rsetl.redshift_sql.copy_delimited import copy_delimited
from rsetl.redshift_sql.copy_input import NOT_NULL, raw_line, target_columns, unreadable
from rsetl.redshift_sql.copy_json import copy_json, json_extractor
from rsetl.redshift_sql.exceptions import LoadError
from rsetl.redshift_sql.load_errors import record_load_error
from rsetl.redshift_sql.s3url import get_object, list_objects, manifest_entries

_CONTEXT_LINE = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_RAW_VALUE = re.compile(r', column [^:]+: "(.*)"$', re.DOTALL)
# Redshift's load error reasons and codes (Load error reference) for what PostgreSQL words its own way.
_RECORD_SHAPE_ERRORS = {
    "extra data after last expected column": ("Extra column(s) found", 1202),
    "missing data for column": ("Delimiter not found", 1214),
}


def run_copy(conn: psycopg.Connection[Any], command: CopyCommand, store: ObjectStore) -> int:
    """Load every file of the COPY; return the rows loaded."""
    table_oid, columns = target_columns(conn, command)
    extract = json_extractor(command, columns, store) if command.format == "json" else None
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
                        loaded += copy_json(cursor, command, columns, extract, body, current, record_lines)
                    else:
                        loaded += copy_delimited(cursor, command, columns, body, current)
                except (zlib.error, OSError, EOFError, UnicodeDecodeError) as error:
                    raise LoadError(
                        command.table,
                        file=str(current),
                        line=None,
                        column=None,
                        reason=unreadable(command, error),
                    ) from error
    except LoadError as rejected:
        record_load_error(
            conn,
            rejected,
            table_oid=table_oid,
            raw_line=raw_line(body, command.compression, rejected.line),
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
            raw_line=raw_line(body, command.compression, load_error.line),
            raw_value=raw_value.group(1) if raw_value else "",
        )
        raise load_error from error
    return loaded


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
            command.table, file=file, line=line, column=error.diag.column_name, reason=NOT_NULL, code=1213
        )
    reason = error.diag.message_primary or str(error)
    for pattern, (redshift_reason, code) in _RECORD_SHAPE_ERRORS.items():
        if reason.startswith(pattern):
            return LoadError(
                command.table, file=file, line=line, column=match.group(2), reason=redshift_reason, code=code
            )
    return LoadError(command.table, file=file, line=line, column=match.group(2), reason=reason)
