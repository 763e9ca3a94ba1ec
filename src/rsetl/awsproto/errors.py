"""The error every local service raises to answer with an AWS error response."""

from __future__ import annotations


class AwsError(Exception):
    """An AWS service error: `code` becomes `__type` (JSON) or `Code` (XML)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class DropConnection(Exception):
    """Raised by a service to close the client's connection without any response (a fault)."""
