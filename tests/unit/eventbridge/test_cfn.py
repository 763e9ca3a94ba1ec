"""Resources from template.yaml (after the SAM transform) applied to the local EventBridge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.eventbridge import EventBridge, Scheduler
from rsetl.eventbridge.cfn import apply_event_bus, apply_rule, apply_schedule

SFN_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:Nightly"


@pytest.fixture
def bridge() -> Iterator[EventBridge]:
    bridge = EventBridge(clock=VirtualClock(datetime(2026, 3, 1, tzinfo=UTC)), workers=1)
    yield bridge
    bridge.close()


def test_bus_rule_and_targets_from_properties(bridge: EventBridge) -> None:
    apply_event_bus(bridge, {"Name": "rsetl"})
    assert apply_event_bus(bridge, {"Name": "rsetl"}).name == "rsetl"
    rule = apply_rule(
        bridge,
        {
            "EventBusName": "arn:aws:events:us-east-1:000000000000:event-bus/rsetl",
            "EventPattern": {"source": ["rsetl.pipeline"], "detail": {"state": ["SUCCEEDED"]}},
            "State": "ENABLED",
            "Targets": [
                {
                    "Id": "StateMachineTarget",
                    "Arn": SFN_ARN,
                    "RoleArn": "arn:aws:iam::000000000000:role/events",
                    "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                    "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
                    "InputPath": "$.detail",
                }
            ],
        },
        "RefreshOnIngestRule",
    )
    assert (rule.name, rule.bus_name) == ("RefreshOnIngestRule", "rsetl")
    (target,) = bridge.list_targets_by_rule("RefreshOnIngestRule", "rsetl")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert target["InputPath"] == "$.detail"


def test_pattern_given_as_json_string(bridge: EventBridge) -> None:
    # CloudFormation has no null: patterns matching null are written as JSON strings.
    rule = apply_rule(bridge, {"EventPattern": json.dumps({"detail": {"x": [None]}})}, "NullRule")
    assert rule.pattern is not None and rule.pattern.matches({"detail": {"x": None}})


def test_schedule_from_properties_fires(bridge: EventBridge) -> None:
    payloads: list[str] = []
    bridge.invoker.register(SFN_ARN, payloads.append)
    scheduler = Scheduler(bridge)
    properties: dict[str, Any] = {
        "ScheduleExpression": "cron(0 2 * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {"Arn": SFN_ARN, "RoleArn": "arn:aws:iam::000000000000:role/s", "Input": '{"a": 1}'},
    }
    apply_schedule(scheduler, properties, "NightlySchedule")
    apply_schedule(
        scheduler, {**properties, "Target": {**properties["Target"], "Input": '{"a": 2}'}}, "NightlySchedule"
    )
    assert scheduler.run_until(datetime(2026, 3, 1, 3, tzinfo=UTC)) == 1
    assert payloads == ['{"a": 2}']
