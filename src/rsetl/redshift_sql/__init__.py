"""The Redshift dialect on PostgreSQL: translation, compat functions, COPY and UNLOAD via an ObjectStore."""

from __future__ import annotations

from rsetl.redshift_sql.compat import COMPAT_SCHEMA, install_compat
from rsetl.redshift_sql.exceptions import (
    LoadError,
    ParameterError,
    RedshiftSqlError,
    S3AccessError,
    UnloadError,
    UnsupportedSqlError,
)
from rsetl.redshift_sql.lexer import bind_parameters, referenced_parameters, split_statements
from rsetl.redshift_sql.results import ColumnInfo, StatementOutcome
from rsetl.redshift_sql.runner import RedshiftSqlRunner
from rsetl.redshift_sql.streaming import RowSink
from rsetl.redshift_sql.translate import Translation, translate

__all__ = [
    "COMPAT_SCHEMA",
    "ColumnInfo",
    "LoadError",
    "ParameterError",
    "RedshiftSqlError",
    "RedshiftSqlRunner",
    "RowSink",
    "S3AccessError",
    "StatementOutcome",
    "Translation",
    "UnloadError",
    "UnsupportedSqlError",
    "bind_parameters",
    "install_compat",
    "referenced_parameters",
    "split_statements",
    "translate",
]
