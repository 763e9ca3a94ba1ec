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
from rsetl.redshift_sql.lexer import split_statements
from rsetl.redshift_sql.results import ColumnInfo, StatementOutcome
from rsetl.redshift_sql.runner import RedshiftSqlRunner
from rsetl.redshift_sql.script import SqlScript, SqlStatement, bind_parameters, parse_script, prepare_script
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
    "SqlScript",
    "SqlStatement",
    "StatementOutcome",
    "Translation",
    "UnloadError",
    "UnsupportedSqlError",
    "bind_parameters",
    "install_compat",
    "parse_script",
    "prepare_script",
    "split_statements",
    "translate",
]
