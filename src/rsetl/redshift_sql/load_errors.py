"""STL_LOAD_ERRORS: what COPY rejected, recorded where Redshift's error message says to look."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from rsetl.redshift_sql.compat import COMPAT_SCHEMA
from rsetl.redshift_sql.exceptions import LoadError

logger = logging.getLogger(__name__)


def record_load_error(
    conn: psycopg.Connection[Any], error: LoadError, *, table_oid: int, raw_line: str, raw_value: str
) -> None:
    """Insert one stl_load_errors row on a separate connection, so it outlives the failed transaction."""
    params = conn.info.get_parameters()
    if conn.info.password:
        params["password"] = conn.info.password
    row = (
        table_oid,
        conn.info.backend_pid,
        error.file[:256],
        error.line,
        (error.column or "")[:127],
        raw_line[:1024],
        raw_value[:1024],
        error.code,
        error.reason[:100],
    )
    try:
        with psycopg.connect(make_conninfo("", **params), autocommit=True) as recorder:
            recorder.execute(
                f"INSERT INTO {COMPAT_SCHEMA}.stl_load_errors (userid, slice, tbl, starttime, session, query,"
                " filename, line_number, colname, type, col_length, position, raw_line, raw_field_value,"
                " err_code, err_reason, is_partial, start_offset)"
                " VALUES (1, 0, %s, now()::timestamp, %s, 0, %s, %s, %s, '', '', 0, %s, %s, %s, %s, 0, 0)",
                row,
            )
    except psycopg.Error as failure:
        # The load error itself is what the caller needs; a missing diagnostic row must not replace it.
        logger.warning("could not record the load error in stl_load_errors: %s", failure)
