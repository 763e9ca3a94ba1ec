"""The local Amazon Redshift Data API: the `redshift-data` wire protocol over PostgreSQL."""

from __future__ import annotations

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
