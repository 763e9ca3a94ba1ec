"""Errors of the Redshift dialect layer."""

from __future__ import annotations


class RedshiftSqlError(Exception):
    """Base class for errors the layer raises itself (database errors propagate as psycopg errors)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedSqlError(RedshiftSqlError):
    """The statement uses a construct the layer cannot run faithfully on PostgreSQL; the message names it."""

    def __init__(self, construct: str, detail: str = "") -> None:
        message = f"unsupported by the local Redshift: {construct}"
        super().__init__(f"{message} ({detail})" if detail else message)
        self.construct = construct


class ParameterError(RedshiftSqlError):
    """A `:name` parameter is referenced but not supplied, supplied but unused, or malformed."""


class LoadError(RedshiftSqlError):
    """COPY rejected a row; nothing of the COPY was loaded."""

    def __init__(
        self, table: str, *, file: str, line: int | None, column: str | None, reason: str, code: int = 1200
    ) -> None:
        where = f"file {file}" + (f", line {line}" if line is not None else "")
        where += f", column {column}" if column else ""
        super().__init__(
            f"Load into table '{table}' failed. Check 'stl_load_errors' system table for details. "
            f"Detail: {where}: {reason}"
        )
        self.table = table
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
        self.code = code
        """Redshift's load error code (stl_load_errors.err_code): 1200 unless a more precise one applies."""


class S3AccessError(RedshiftSqlError):
    """COPY or UNLOAD could not read or write the object store (missing bucket, key or prefix)."""


class UnloadError(RedshiftSqlError):
    """UNLOAD could not write its files (for example, they exist and ALLOWOVERWRITE was not given)."""
