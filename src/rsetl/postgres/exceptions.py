"""Errors of the PostgreSQL lifecycle."""

from __future__ import annotations


class PostgresError(Exception):
    """Base class for errors starting, reaching or managing the PostgreSQL server."""


class PostgresStartError(PostgresError):
    """The embedded server could not be initialised or started."""


class InvalidDatabaseNameError(PostgresError):
    """A database name is not a plain identifier Redshift would accept."""


class InvalidIsolationLevelError(PostgresError):
    """An isolation level that is not one of Redshift's (SNAPSHOT, SERIALIZABLE)."""
