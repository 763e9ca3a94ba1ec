"""Local Amazon EventBridge: event patterns, buses, rules, targets, schedules and the `events` API."""

from __future__ import annotations

from rsetl.eventbridge.bus import EventBridge
from rsetl.eventbridge.cfn import apply_event_bus, apply_rule, apply_schedule
from rsetl.eventbridge.delivery import DeliveryRecord, RetryBackoff
from rsetl.eventbridge.entries import PutEventRecord
from rsetl.eventbridge.exceptions import (
    EventBridgeError,
    InvalidEventPatternException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from rsetl.eventbridge.pattern import EventPattern
from rsetl.eventbridge.rules import EventBus, Rule
from rsetl.eventbridge.schedule import ScheduleExpression
from rsetl.eventbridge.scheduler import Schedule, Scheduler
from rsetl.eventbridge.service import EventsService
from rsetl.eventbridge.targets import (
    DeadLetterMessage,
    DeadLetterQueues,
    FaultInjector,
    TargetInvoker,
    TargetNotFoundError,
)

__all__ = [
    "DeadLetterMessage",
    "DeadLetterQueues",
    "DeliveryRecord",
    "EventBridge",
    "EventBridgeError",
    "EventBus",
    "EventPattern",
    "EventsService",
    "FaultInjector",
    "InvalidEventPatternException",
    "LimitExceededException",
    "PutEventRecord",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
    "RetryBackoff",
    "Rule",
    "Schedule",
    "ScheduleExpression",
    "Scheduler",
    "TargetInvoker",
    "TargetNotFoundError",
    "ValidationException",
    "apply_event_bus",
    "apply_rule",
    "apply_schedule",
]
