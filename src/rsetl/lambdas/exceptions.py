"""Exceptions of the local Lambda runtime."""

from __future__ import annotations


class LambdaRuntimeError(Exception):
    """Base class of the local Lambda runtime's errors."""


class FunctionNotFound(LambdaRuntimeError):
    """No function of this name or ARN is registered (Lambda's ResourceNotFoundException)."""


class InvalidFunctionConfig(LambdaRuntimeError):
    """A FunctionConfig points at code or layers that are not there."""


class LambdaServiceError(LambdaRuntimeError):
    """The Invoke call itself failed (Lambda's ServiceException); the handler did not run."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PackageInstallError(LambdaRuntimeError):
    """pip could not install a function's or a layer's requirements.txt (`sam build` would fail too)."""
