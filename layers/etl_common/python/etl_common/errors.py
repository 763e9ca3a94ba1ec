"""Errors raised by the shared Lambda code.

Step Functions sees a Python exception's class name as the task's error name, so the
classes that stand for Data API errors carry the Data API's own error codes: the state
machine's Retry and Catch rules match on those names.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError


class EtlError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(EtlError):
    """A pipeline spec is missing, unreadable or invalid."""


class InputError(EtlError):
    """An execution input, run parameter or event value is invalid."""


class UnsafeValueError(InputError):
    """A value cannot be placed safely into SQL text (e.g. a COPY source URI)."""


class EventValidationError(EtlError):
    """An event the product is about to emit does not match its JSON Schema."""


class PutEventsError(EtlError):
    """EventBridge refused one or more entries of a PutEvents call."""


class DataApiError(EtlError):
    """A Redshift Data API call failed; subclasses name the Data API error code."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed with {code}: {message}")
        self.operation = operation
        self.code = code


class ThrottlingException(DataApiError):
    """The Data API throttled the request (transient: the state machine retries)."""


class ActiveStatementsExceededException(DataApiError):
    """Too many statements are running (transient: the state machine retries)."""


class ActiveWaitingRequestsExceededException(DataApiError):
    """Too many long-poll requests are waiting (transient: the state machine retries)."""


class ActiveSessionsExceededException(DataApiError):
    """Too many sessions are open (transient: the state machine retries)."""


class InternalServerException(DataApiError):
    """The Data API had an internal error (transient: the state machine retries)."""


class DatabaseConnectionException(DataApiError):
    """The Data API could not connect to the database (transient: the state machine retries)."""


class ValidationException(DataApiError):
    """The Data API rejected the request as invalid (permanent)."""


class ResourceNotFoundException(DataApiError):
    """The statement, cluster or workgroup does not exist (permanent)."""


class ExecuteStatementException(DataApiError):
    """The Data API could not run the statement (permanent)."""


class BatchExecuteStatementException(DataApiError):
    """The Data API could not run the batch (permanent)."""


class QueryTimeoutException(DataApiError):
    """The database timed the query out (permanent)."""


_DATA_API_ERRORS: dict[str, type[DataApiError]] = {
    cls.__name__: cls
    for cls in (
        ThrottlingException,
        ActiveStatementsExceededException,
        ActiveWaitingRequestsExceededException,
        ActiveSessionsExceededException,
        InternalServerException,
        DatabaseConnectionException,
        ValidationException,
        ResourceNotFoundException,
        ExecuteStatementException,
        BatchExecuteStatementException,
        QueryTimeoutException,
    )
}

TRANSIENT_ERRORS: tuple[str, ...] = (
    "ThrottlingException",
    "ActiveStatementsExceededException",
    "ActiveWaitingRequestsExceededException",
    "ActiveSessionsExceededException",
    "InternalServerException",
    "DatabaseConnectionException",
)
"""Data API error names the state machine retries with jittered backoff."""


_SERIALIZATION_FAILURE = re.compile(r"\bERROR:\s*1023\b|Serializable isolation violation")


def is_serialization_failure(error: str) -> bool:
    """Whether a FAILED statement's error is Redshift's error 1023, which a resubmission can clear.

    Redshift rolls back a transaction its isolation level cannot serialize ("Fixing serializable
    isolation errors", https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html);
    the statement, run again as a new transaction, sees the other one's committed work.
    """
    return bool(_SERIALIZATION_FAILURE.search(error))


def data_api_error(operation: str, error: ClientError) -> DataApiError:
    """Translate a botocore ``ClientError`` into the ``DataApiError`` subclass of its code."""
    info = error.response.get("Error", {})
    code = info.get("Code", "Unknown")
    message = info.get("Message", str(error))
    return _DATA_API_ERRORS.get(code, DataApiError)(operation, code, message)
