"""Errors of the local Redshift Data API, each class named by the AWS error code it answers with.

A class's name is its error code, checked against botocore's redshift-data model (its error
shapes, and the errors common to all AWS APIs) when the class is defined, so a misspelt or
invented code fails at import rather than on the wire.
"""

from __future__ import annotations

from functools import cache

from rsetl.awsproto import AwsError
from rsetl.awsproto.models import service_model

COMMON_ERRORS = ("ThrottlingException",)
"""Codes the Data API answers with that are not in its model: errors common to all AWS APIs ("Common
Errors", https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html)."""


@cache
def error_codes() -> frozenset[str]:
    """The error codes of botocore's redshift-data model, and `COMMON_ERRORS`."""
    shapes = service_model("redshift-data").error_shapes
    return frozenset(shape.name for shape in shapes) | frozenset(COMMON_ERRORS)


class RedshiftDataError(AwsError):
    """Base class: a subclass's name is its AWS error code; `http_status` is AWS's for it
    (the "Errors" of each operation in the Data API Reference,
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html)."""

    http_status = 400

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if cls.__name__ not in error_codes():
            raise TypeError(f"{cls.__name__} is not an error code of the redshift-data model")

    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message, self.http_status)


class ValidationException(RedshiftDataError):
    """The request is invalid (bad combination of parameters, wrong statement kind...)."""


class ResourceNotFoundException(RedshiftDataError):
    """The statement or session does not exist, is not the caller's, or has expired."""


class ActiveStatementsExceededException(RedshiftDataError):
    """Too many statements are running at once."""


class ActiveSessionsExceededException(RedshiftDataError):
    """Too many sessions are open at once."""


class ThrottlingException(RedshiftDataError):
    """The request rate of an operation exceeds its configured quota."""


class InternalServerException(RedshiftDataError):
    """The local service failed."""

    http_status = 500


class DatabaseConnectionException(RedshiftDataError):
    """The database could not be reached."""

    http_status = 500
