"""The PostgreSQL server that stands in for Redshift: embedded (pip wheel) or external by URL."""

from __future__ import annotations

from rsetl.postgres.exceptions import (
    InvalidDatabaseNameError,
    InvalidIsolationLevelError,
    PostgresError,
    PostgresStartError,
)
from rsetl.postgres.server import (
    DEFAULT_DATABASE,
    DEFAULT_ISOLATION_LEVEL,
    ISOLATION_LEVELS,
    PostgresServer,
    StartingServer,
    alter_isolation_sql,
)

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_ISOLATION_LEVEL",
    "ISOLATION_LEVELS",
    "InvalidDatabaseNameError",
    "InvalidIsolationLevelError",
    "PostgresError",
    "PostgresServer",
    "PostgresStartError",
    "StartingServer",
    "alter_isolation_sql",
]
