"""Errors raised by the shared Lambda code.

Step Functions sees a Python exception's class name as the task's error name, so the
classes that stand for Data API errors carry the Data API's own error codes, taken from
botocore's redshift-data model: the state machine's Retry and Catch rules match on those names.
"""

from __future__ import annotations

import re
from functools import cache

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


COMMON_ERRORS = ("ThrottlingException",)
"""Data API error codes not in botocore's redshift-data model: errors common to all AWS APIs ("Common
Errors", https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html) that the
state machine retries."""


@cache
def data_api_error_codes() -> frozenset[str]:
    """The error codes the Data API answers with: its model's error shapes and `COMMON_ERRORS`.

    botocore (in every Lambda Python runtime) is the source; it is loaded on the first error only.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("redshift-data")
    return frozenset(shape.name for shape in model.error_shapes) | frozenset(COMMON_ERRORS)


@cache
def data_api_error_class(code: str) -> type[DataApiError]:
    """The `DataApiError` subclass named `code` (one class per code), or `DataApiError` itself for a
    code the Data API does not document."""
    if code not in data_api_error_codes():
        return DataApiError
    return type(code, (DataApiError,), {"__doc__": f"The Data API's {code}.", "__module__": __name__})


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
    """Translate a botocore ``ClientError`` into the ``DataApiError`` subclass named by its code."""
    info = error.response.get("Error", {})
    code = info.get("Code", "Unknown")
    message = info.get("Message", str(error))
    return data_api_error_class(code)(operation, code, message)
