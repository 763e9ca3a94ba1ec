"""Buses and rules as EventBridge holds them, and the checks of their input against botocore's
events model (the wire's validator, also for the in-process callers) and EventBridge's quotas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from botocore.model import StructureShape

from rsetl.arn import DEFAULT_BUS
from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.models import service_model
from rsetl.awsproto.shapes import validate_input
from rsetl.eventbridge.exceptions import LimitExceededException, ValidationException
from rsetl.eventbridge.pattern import EventPattern
from rsetl.eventbridge.schedule import ScheduleExpression
from rsetl.eventbridge.transform import validate_target_input

__all__ = ["EventBus", "Rule", "bus_name_of", "merge_targets", "pattern_text", "validate_request"]

EVENTS_MODEL = service_model("events")
MAX_TARGETS_PER_RULE = 5
"""A quota, not a model limit: "Targets per rule: 5" (Amazon EventBridge quotas,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)."""
_RETRY_POLICY = cast(StructureShape, EVENTS_MODEL.shape_for("RetryPolicy")).members


def validate_request(operation: str, **params: Any) -> None:
    """The wire's check of `operation`'s input against botocore's events model, for the in-process
    callers too (the template's wiring, the other local services): None values are left out."""
    request = {name: value for name, value in params.items() if value is not None}
    try:
        validate_input(EVENTS_MODEL.operation_model(operation).input_shape, request)
    except AwsError as error:
        if error.code != "ValidationException":
            raise
        raise ValidationException(error.message) from None


def bus_name_of(name_or_arn: str | None) -> str:
    """The bus name from an EventBusName parameter, which may be a name or an ARN."""
    if not name_or_arn:
        return DEFAULT_BUS
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":event-bus/", 1)[-1]
    return name_or_arn


@dataclass
class EventBus:
    """An event bus: `default` or a custom one."""

    name: str
    arn: str
    description: str | None
    created: datetime
    modified: datetime


@dataclass
class Rule:
    """A rule on a bus: an event pattern or a schedule, and up to five targets."""

    name: str
    bus_name: str
    arn: str
    state: str
    pattern: EventPattern | None = None
    pattern_text: str | None = None
    schedule: ScheduleExpression | None = None
    description: str | None = None
    role_arn: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.state != "DISABLED"

    def describe(self, account_id: str) -> dict[str, Any]:
        """The rule as DescribeRule / ListRules show it."""
        out: dict[str, Any] = {
            "Name": self.name,
            "Arn": self.arn,
            "State": self.state,
            "EventBusName": self.bus_name,
        }
        optional = {
            "EventPattern": self.pattern_text,
            "ScheduleExpression": self.schedule.text if self.schedule else None,
            "Description": self.description,
            "RoleArn": self.role_arn,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        out["CreatedBy"] = account_id
        return out


def pattern_text(given: str | Mapping[str, Any] | None, pattern: EventPattern | None) -> str | None:
    """The EventPattern DescribeRule shows: the text as given, else the pattern's JSON."""
    if isinstance(given, str):
        return given
    return pattern.to_json() if pattern is not None else None


def merge_targets(
    current: Mapping[str, dict[str, Any]], targets: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """A rule's targets after PutTargets adds or replaces `targets` (API `Target` dicts) in `current`."""
    for target in targets:
        if not target.get("Id") or not target.get("Arn"):
            raise ValidationException("Every target needs an Id and an Arn.")
        validate_target_input(target)
        policy = target.get("RetryPolicy") or {}
        for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            value = policy.get(member)
            low, high = (int(_RETRY_POLICY[member].metadata[bound]) for bound in ("min", "max"))
            if value is not None and not low <= int(value) <= high:
                raise ValidationException(f"RetryPolicy {member} must be between {low} and {high}.")
    merged = dict(current)
    merged.update({target["Id"]: dict(target) for target in targets})
    if len(merged) > MAX_TARGETS_PER_RULE:
        raise LimitExceededException(
            f"The requested resource exceeds the maximum number allowed: a rule has at most "
            f"{MAX_TARGETS_PER_RULE} targets."
        )
    return merged
