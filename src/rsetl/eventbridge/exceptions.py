"""Errors of the local EventBridge, each carrying the AWS error code the API answers with."""

from __future__ import annotations


class EventBridgeError(Exception):
    """Base class: an error the `events` API reports with `code` and `message`."""

    code = "InternalException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidEventPatternException(EventBridgeError):
    """The event pattern is not valid JSON or breaks the pattern language."""

    code = "InvalidEventPatternException"


class ValidationException(EventBridgeError):
    """A parameter is malformed (a bad event, schedule expression, input path...)."""

    code = "ValidationException"


class ResourceNotFoundException(EventBridgeError):
    """The bus, rule or schedule does not exist."""

    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(EventBridgeError):
    """The bus or schedule already exists."""

    code = "ResourceAlreadyExistsException"


class LimitExceededException(EventBridgeError):
    """A quota (targets per rule, entries per request) was exceeded."""

    code = "LimitExceededException"
