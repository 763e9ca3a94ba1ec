"""Errors of the local Redshift Data API, each class named by the AWS error code it answers with.

A class's name is its error code, checked against botocore's redshift-data model (its error
shapes, and the errors common to all AWS APIs) when the class is defined, so a misspelt or
invented code fails at import rather than on the wire.
"""

from __future__ import annotations

from rsetl.errors import ServiceError


class RedshiftDataError(ServiceError):
    """Base class: the class name is the code, subclasses set `status`; only the message varies."""


class ValidationException(RedshiftDataError):
    """The request is invalid (bad combination of parameters, wrong statement kind...)."""


class ResourceNotFoundException(RedshiftDataError):
    """The statement or session does not exist, is not the caller's, or has expired.

    `resource_id` is the statement or session ID asked for: the model's shape requires it.
    """

    def __init__(self, message: str, resource_id: str) -> None:
        super().__init__(message, {"ResourceId": resource_id})


class ActiveStatementsExceededException(RedshiftDataError):
    """Too many statements are running at once."""


class ActiveSessionsExceededException(RedshiftDataError):
    """Too many sessions are open at once."""


class ThrottlingException(RedshiftDataError):
    """The request rate of an operation exceeds its configured quota."""


class InternalServerException(RedshiftDataError):
    """The local service failed."""

    status = 500


class DatabaseConnectionException(RedshiftDataError):
    """The database could not be reached."""

    status = 500
