"""The PostgreSQL server that stands in for Redshift: embedded (pip wheel) or external by URL."""

from __future__ import annotations

from rsetl.postgres.exceptions import InvalidDatabaseNameError, PostgresError, PostgresStartError
from rsetl.postgres.server import DEFAULT_DATABASE, PostgresServer

__all__ = [
    "DEFAULT_DATABASE",
    "InvalidDatabaseNameError",
    "PostgresError",
    "PostgresServer",
    "PostgresStartError",
]
