"""Creating buses, rules, targets and schedules from CloudFormation resource properties.

The runtime reads `template.yaml` (after the SAM transform) and hands each
`AWS::Events::EventBus`, `AWS::Events::Rule` and `AWS::Scheduler::Schedule` resource's
resolved `Properties` here. Property names are the API's, so targets pass through as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rsetl.eventbridge.bus import EventBridge
from rsetl.eventbridge.exceptions import ResourceAlreadyExistsException
from rsetl.eventbridge.rules import EventBus, Rule
from rsetl.eventbridge.scheduler import Schedule, Scheduler

__all__ = ["apply_event_bus", "apply_rule", "apply_schedule"]

_TARGET_KEYS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
)


def apply_event_bus(bridge: EventBridge, properties: Mapping[str, Any]) -> EventBus:
    """`AWS::Events::EventBus`: create the bus (again is fine)."""
    name = str(properties["Name"])
    try:
        return bridge.create_event_bus(name, properties.get("Description"))
    except ResourceAlreadyExistsException:
        return bridge.describe_event_bus(name)


def apply_rule(bridge: EventBridge, properties: Mapping[str, Any], logical_id: str) -> Rule:
    """`AWS::Events::Rule`: the rule (named after `logical_id` when it has no Name) and its Targets."""
    pattern = properties.get("EventPattern")
    rule = bridge.put_rule(
        str(properties.get("Name") or logical_id),
        event_pattern=json.loads(pattern) if isinstance(pattern, str) else pattern,
        schedule_expression=properties.get("ScheduleExpression"),
        state=properties.get("State"),
        description=properties.get("Description"),
        role_arn=properties.get("RoleArn"),
        event_bus_name=properties.get("EventBusName"),
    )
    targets = [
        {key: target[key] for key in _TARGET_KEYS if target.get(key) is not None}
        for target in properties.get("Targets") or []
    ]
    if targets:
        bridge.put_targets(rule.name, targets, rule.bus_name)
    return rule


def apply_schedule(scheduler: Scheduler, properties: Mapping[str, Any], logical_id: str) -> Schedule:
    """`AWS::Scheduler::Schedule`: create or replace the schedule."""
    name = str(properties.get("Name") or logical_id)
    group = properties.get("GroupName")
    existing = {(s.group_name, s.name) for s in scheduler.list_schedules()}
    return scheduler.create_schedule(
        name,
        str(properties["ScheduleExpression"]),
        dict(properties["Target"]),
        group_name=group,
        timezone=properties.get("ScheduleExpressionTimezone"),
        state=properties.get("State"),
        start_date=_date(properties.get("StartDate")),
        end_date=_date(properties.get("EndDate")),
        flexible_time_window=properties.get("FlexibleTimeWindow"),
        description=properties.get("Description"),
        replace=(group or "default", name) in existing,
    )


def _date(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
