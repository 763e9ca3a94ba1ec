"""Schedule expressions and the scheduler on the virtual clock.

User guide: "Creating a rule that runs on a schedule" (cron and rate expressions) and the
EventBridge Scheduler guide ("Schedule types": at, rate, cron; time zones; context attributes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rsetl.clock import RealClock, VirtualClock
from rsetl.eventbridge import EventBridge, ResourceAlreadyExistsException, ScheduleExpression, Scheduler
from rsetl.eventbridge.exceptions import ValidationException

SFN_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:NightlySnapshot"
START = datetime(2026, 3, 1, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 2 * * ? *)", _utc(2026, 3, 1), _utc(2026, 3, 1, 2)),
        ("cron(0 2 * * ? *)", _utc(2026, 3, 1, 2), _utc(2026, 3, 2, 2)),
        ("cron(15 10 ? * 6L 2026)", _utc(2026, 3, 1), _utc(2026, 3, 27, 10, 15)),
        ("cron(0 18 ? * MON-FRI *)", _utc(2026, 3, 1), _utc(2026, 3, 2, 18)),
        ("cron(0 8 1W * ? *)", _utc(2026, 3, 1), _utc(2026, 3, 2, 8)),
        ("cron(0 9 ? * 2#1 *)", _utc(2026, 3, 10), _utc(2026, 4, 6, 9)),
        ("cron(0 0 L * ? *)", _utc(2026, 2, 1), _utc(2026, 2, 28)),
        ("cron(0/15 * * * ? *)", _utc(2026, 3, 1, 0, 7), _utc(2026, 3, 1, 0, 15)),
    ],
)
def test_cron_next_fire(expression: str, after: datetime, expected: datetime) -> None:
    assert ScheduleExpression.parse(expression).next_after(after) == expected


def test_rate_counts_from_its_anchor() -> None:
    rate = ScheduleExpression.parse("rate(5 minutes)")
    assert rate.next_after(_utc(2026, 3, 1, 0, 7), anchor=START) == _utc(2026, 3, 1, 0, 10)
    assert rate.next_after(START, anchor=START) == _utc(2026, 3, 1, 0, 5)
    assert ScheduleExpression.parse("rate(1 day)").next_after(START, anchor=START) == _utc(2026, 3, 2)


def test_cron_in_a_time_zone_follows_daylight_saving() -> None:
    paris = ScheduleExpression.parse("cron(0 2 * * ? *)", timezone="Europe/Paris", allow_at=True)
    assert paris.next_after(_utc(2026, 3, 1)) == _utc(2026, 3, 1, 1)  # CET, UTC+1
    assert paris.next_after(_utc(2026, 3, 31, 12)) == _utc(2026, 4, 1, 0)  # CEST, UTC+2


def test_at_expression() -> None:
    at = ScheduleExpression.parse("at(2026-03-01T09:30:00)", timezone="America/New_York", allow_at=True)
    assert at.next_after(START) == _utc(2026, 3, 1, 14, 30)
    assert at.next_after(_utc(2026, 3, 2)) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(0 minutes)", "must be positive"),
        ("rate(2 hour)", "singular unit"),
        ("rate(5 weeks)", "expected rate(...) or cron(...)"),
        ("cron(0 2 * * * *)", "One must be a question mark"),
        ("cron(61 2 * * ? *)", "Invalid minute value"),
        ("at(2026-03-01T09:30:00)", "expected rate(...) or cron(...)"),
        ("every day", "expected rate(...) or cron(...)"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(ValidationException, match="Parameter ScheduleExpression is not valid") as caught:
        ScheduleExpression.parse(expression)
    assert message in caught.value.message


def test_unknown_time_zone() -> None:
    with pytest.raises(ValidationException, match="unknown time zone"):
        ScheduleExpression.parse("cron(0 2 * * ? *)", timezone="Mars/Olympus")


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[Any] = []

    def __call__(self, payload: str) -> None:
        self.payloads.append(json.loads(payload))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def bridge(clock: VirtualClock) -> Iterator[EventBridge]:
    bridge = EventBridge(clock=clock, account_id="123456789012", workers=2)
    yield bridge
    bridge.close()


def test_scheduled_rule_fires_in_order_on_virtual_clock(bridge: EventBridge, clock: VirtualClock) -> None:
    recorder = Recorder()
    bridge.invoker.register(SFN_ARN, recorder)
    bridge.put_rule("nightly", schedule_expression="cron(0 2 * * ? *)")
    bridge.put_targets("nightly", [{"Id": "sfn", "Arn": SFN_ARN}])
    scheduler = Scheduler(bridge)
    assert scheduler.run_until(_utc(2026, 3, 3, 12)) == 3
    assert clock.now() == _utc(2026, 3, 3, 12)
    assert [event["time"] for event in recorder.payloads] == [
        "2026-03-01T02:00:00Z",
        "2026-03-02T02:00:00Z",
        "2026-03-03T02:00:00Z",
    ]
    event = recorder.payloads[0]
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [bridge.rule_arn("nightly")]
    assert event["detail"] == {}
    assert [record.event["detail-type"] for record in bridge.events()] == ["Scheduled Event"] * 3


def test_disabled_scheduled_rule_does_not_fire(bridge: EventBridge) -> None:
    recorder = Recorder()
    bridge.invoker.register(SFN_ARN, recorder)
    bridge.put_rule("every5", schedule_expression="rate(5 minutes)", state="DISABLED")
    bridge.put_targets("every5", [{"Id": "sfn", "Arn": SFN_ARN}])
    assert Scheduler(bridge).run_until(_utc(2026, 3, 1, 1)) == 0
    assert recorder.payloads == []


def test_scheduler_schedule_with_time_zone_and_context_attributes(bridge: EventBridge) -> None:
    recorder = Recorder()
    bridge.invoker.register(SFN_ARN, recorder)
    scheduler = Scheduler(bridge)
    scheduler.create_schedule(
        "nightly",
        "cron(0 2 * * ? *)",
        {
            "Arn": SFN_ARN,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": (
                '{"business_date": "<aws.scheduler.scheduled-time>", "try": <aws.scheduler.attempt-number>}'
            ),
        },
        timezone="Europe/Paris",
        flexible_time_window={"Mode": "OFF"},
    )
    with pytest.raises(ResourceAlreadyExistsException):
        scheduler.create_schedule("nightly", "rate(1 day)", {"Arn": SFN_ARN})
    scheduler.run_until(_utc(2026, 3, 2, 12))
    assert recorder.payloads == [
        {"business_date": "2026-03-01T01:00:00Z", "try": 1},
        {"business_date": "2026-03-02T01:00:00Z", "try": 1},
    ]
    (record, _) = bridge.deliveries()
    assert record.schedule_arn == "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly"


def test_one_time_schedule_retries_then_dead_letters(bridge: EventBridge) -> None:
    dlq = "arn:aws:sqs:us-east-1:123456789012:sched-dlq"
    bridge.invoker.register(SFN_ARN, Recorder())
    bridge.faults.fail(SFN_ARN, times=5)
    scheduler = Scheduler(bridge)
    scheduler.create_schedule(
        "once",
        "at(2026-03-01T06:00:00)",
        {
            "Arn": SFN_ARN,
            "Input": "{}",
            "RetryPolicy": {"MaximumRetryAttempts": 1},
            "DeadLetterConfig": {"Arn": dlq},
        },
    )
    assert scheduler.run_until(_utc(2026, 3, 5)) == 1
    (message,) = bridge.dead_letters.messages(dlq)
    assert message.attributes["SCHEDULE_ARN"].endswith(":schedule/default/once")
    assert message.attributes["RETRY_ATTEMPTS"] == "1"


def test_run_until_needs_a_virtual_clock() -> None:
    bridge = EventBridge(clock=RealClock(), workers=1)
    try:
        with pytest.raises(TypeError, match="VirtualClock"):
            Scheduler(bridge).run_until(_utc(2026, 1, 1))
    finally:
        bridge.close()
