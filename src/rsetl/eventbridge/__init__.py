"""Local Amazon EventBridge: event patterns, buses, rules, targets, schedules and the `events` API."""

from __future__ import annotations

from rsetl.eventbridge.exceptions import (
    EventBridgeError,
    InvalidEventPatternException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from rsetl.eventbridge.pattern import EventPattern

__all__ = [
    "EventBridgeError",
    "EventPattern",
    "InvalidEventPatternException",
    "LimitExceededException",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
    "ValidationException",
]
