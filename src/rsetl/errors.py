"""The one base of every error an emulated AWS API answers with, apart from the wire that sends it.

A service package names its errors after the AWS error codes (the class name is the code) and raises
them with AWS's message text; the router turns any of them into its protocol's error response
(:func:`rsetl.awsproto.errors.wire_error`), so no domain package imports the wire layer.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """An AWS API error: `code` is the class name unless a class sets it; `status` its HTTP status."""

    code: str = "InternalFailure"
    status: int = 400

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, str] = details or {}
        """The other members of the error's shape in the service model (the Data API's
        `ResourceNotFoundException` has `ResourceId`), answered beside the message."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


RUNTIME_STOPPED = "rsetl.RuntimeStopped"
"""The error of work the local runtime's stop cut short: an execution RUNNING when it stopped, a
delivery's last attempt. No AWS error: on AWS the service does not stop under them."""
