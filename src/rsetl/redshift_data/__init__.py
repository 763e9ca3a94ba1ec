"""The local Amazon Redshift Data API: the `redshift-data` wire protocol over PostgreSQL.

Its names are imported on first use: the CLI reads `config.STATEMENT_WORKERS` before `up` starts
PostgreSQL, and the service's own imports run meanwhile.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rsetl.redshift_data.backend import RedshiftDataBackend
    from rsetl.redshift_data.config import STATEMENT_WORKERS, Faults, Limits
    from rsetl.redshift_data.events import DETAIL_TYPE, SOURCE, EventSink
    from rsetl.redshift_data.exceptions import (
        ActiveSessionsExceededException,
        ActiveStatementsExceededException,
        DatabaseConnectionException,
        InternalServerException,
        RedshiftDataError,
        ResourceNotFoundException,
        ThrottlingException,
        ValidationException,
    )
    from rsetl.redshift_data.runner import SqlRunner
    from rsetl.redshift_data.service import RedshiftDataService, local_workgroup_id
    from rsetl.redshift_data.standalone import LocalRedshiftData, Postgres, serve
    from rsetl.redshift_data.statements import Status
    from rsetl.redshift_data.users import ADMIN_USER, DatabaseAuth, DatabaseLogin

__all__ = [
    "ADMIN_USER",
    "DETAIL_TYPE",
    "SOURCE",
    "STATEMENT_WORKERS",
    "ActiveSessionsExceededException",
    "ActiveStatementsExceededException",
    "DatabaseAuth",
    "DatabaseConnectionException",
    "DatabaseLogin",
    "EventSink",
    "Faults",
    "InternalServerException",
    "Limits",
    "LocalRedshiftData",
    "Postgres",
    "RedshiftDataBackend",
    "RedshiftDataError",
    "RedshiftDataService",
    "ResourceNotFoundException",
    "SqlRunner",
    "Status",
    "ThrottlingException",
    "ValidationException",
    "local_workgroup_id",
    "serve",
]

_LAZY = {
    "ADMIN_USER": "rsetl.redshift_data.users",
    "ActiveSessionsExceededException": "rsetl.redshift_data.exceptions",
    "ActiveStatementsExceededException": "rsetl.redshift_data.exceptions",
    "DETAIL_TYPE": "rsetl.redshift_data.events",
    "DatabaseAuth": "rsetl.redshift_data.users",
    "DatabaseConnectionException": "rsetl.redshift_data.exceptions",
    "DatabaseLogin": "rsetl.redshift_data.users",
    "EventSink": "rsetl.redshift_data.events",
    "Faults": "rsetl.redshift_data.config",
    "InternalServerException": "rsetl.redshift_data.exceptions",
    "Limits": "rsetl.redshift_data.config",
    "LocalRedshiftData": "rsetl.redshift_data.standalone",
    "Postgres": "rsetl.redshift_data.standalone",
    "RedshiftDataBackend": "rsetl.redshift_data.backend",
    "RedshiftDataError": "rsetl.redshift_data.exceptions",
    "RedshiftDataService": "rsetl.redshift_data.service",
    "ResourceNotFoundException": "rsetl.redshift_data.exceptions",
    "SOURCE": "rsetl.redshift_data.events",
    "STATEMENT_WORKERS": "rsetl.redshift_data.config",
    "SqlRunner": "rsetl.redshift_data.runner",
    "Status": "rsetl.redshift_data.statements",
    "ThrottlingException": "rsetl.redshift_data.exceptions",
    "ValidationException": "rsetl.redshift_data.exceptions",
    "local_workgroup_id": "rsetl.redshift_data.service",
    "serve": "rsetl.redshift_data.standalone",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
