"""Errors of the local Redshift Data API, each answering with the AWS error code of the same name."""

from __future__ import annotations

from rsetl.awsproto import AwsError


class RedshiftDataError(AwsError):
    """Base class: subclasses fix `code` and `status`; only the message varies."""

    code_name = "InternalServerException"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(self.code_name, message, self.http_status)


class ValidationException(RedshiftDataError):
    """The request is invalid (bad combination of parameters, wrong statement kind...)."""

    code_name = "ValidationException"


class ResourceNotFoundException(RedshiftDataError):
    """The statement or session does not exist, is not the caller's, or has expired."""

    code_name = "ResourceNotFoundException"


class ActiveStatementsExceededException(RedshiftDataError):
    """Too many statements are running at once."""

    code_name = "ActiveStatementsExceededException"


class ActiveSessionsExceededException(RedshiftDataError):
    """Too many sessions are open at once."""

    code_name = "ActiveSessionsExceededException"


class ThrottlingException(RedshiftDataError):
    """The request rate of an operation exceeds its configured quota."""

    code_name = "ThrottlingException"


class InternalServerException(RedshiftDataError):
    """The local service failed."""

    code_name = "InternalServerException"
    http_status = 500


class DatabaseConnectionException(RedshiftDataError):
    """The database could not be reached."""

    code_name = "DatabaseConnectionException"
    http_status = 500
