"""Errors of the local EventBridge, each named by the AWS error code the `events` API answers with."""

from __future__ import annotations

from rsetl.errors import ServiceError


class EventBridgeError(ServiceError):
    """Base class: an error the `events` API reports with its class name as the code."""


class InvalidEventPatternException(EventBridgeError):
    """The event pattern is not valid JSON or breaks the pattern language."""


class ValidationException(EventBridgeError):
    """A parameter is malformed (a bad event, schedule expression, input path...)."""


class ResourceNotFoundException(EventBridgeError):
    """The bus, rule or schedule does not exist."""


class ResourceAlreadyExistsException(EventBridgeError):
    """The bus or schedule already exists."""


class LimitExceededException(EventBridgeError):
    """A quota (targets per rule, entries per request) was exceeded."""
