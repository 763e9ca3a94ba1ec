"""The error the wire layer answers with, and the one place a domain error becomes it."""

from __future__ import annotations

from collections.abc import Mapping

from rsetl.errors import ServiceError


class AwsError(ServiceError):
    """An AWS service error: `code` becomes `__type` (JSON) or `Code` (XML).

    The wire layer raises it for what no domain package sees (signatures, protocol, bodies); services
    raise their own :class:`~rsetl.errors.ServiceError` subclasses. `details` are the extra elements
    some errors carry (S3's `RequestTimeTooSkewed` has `RequestTime`, `ServerTime`,
    `MaxAllowedSkewMilliseconds`).
    """

    def __init__(
        self, code: str, message: str, status: int = 400, details: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, details)
        self.code = code
        self.status = status


def wire_error(error: ServiceError) -> AwsError:
    """The error response a domain error answers with: its code, AWS's message, its status."""
    if isinstance(error, AwsError):
        return error
    return AwsError(error.code, error.message, error.status, error.details)


class DropConnection(Exception):
    """Raised by a service to close the client's connection without any response (a fault)."""
