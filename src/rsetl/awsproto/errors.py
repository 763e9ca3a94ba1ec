"""The error every local service raises to answer with an AWS error response."""

from __future__ import annotations

from collections.abc import Mapping


class AwsError(Exception):
    """An AWS service error: `code` becomes `__type` (JSON) or `Code` (XML).

    `details` are the extra elements some XML errors carry (S3's `RequestTimeTooSkewed` has
    `RequestTime`, `ServerTime`, `MaxAllowedSkewMilliseconds`).
    """

    def __init__(
        self, code: str, message: str, status: int = 400, details: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details: Mapping[str, str] = details or {}


class DropConnection(Exception):
    """Raised by a service to close the client's connection without any response (a fault)."""
