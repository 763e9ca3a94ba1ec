"""What a restart does with the journal's unfinished work, as AWS would have gone on with it.

Deliveries keep their retry budget across a restart: EventBridge retries "until either the maximum
number of attempts is made or until the duration of the MaximumEventAgeInSeconds is met" (EventBridge
API Reference, "RetryPolicy", https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html;
User Guide, "Using dead-letter queues to process undelivered events",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.eventbridge import EventBridge
from rsetl.eventbridge.delivery import Delivery, DeliveryRecord, RetryBackoff
from rsetl.journal import DeliveryRow, Journal

START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
TARGET = "arn:aws:states:us-east-1:000000000000:stateMachine:Target"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:dlq"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


# -- deliveries -------------------------------------------------------------------------------


def _journaled_delivery(path: Path, *, attempts: int, retries: int, event_age: int, status: str) -> None:
    """What a stop leaves of a delivery to TARGET: its row, `attempts` made, not ended."""
    delivery = Delivery(
        event_id="e1", event_time=START, source="app", target_id="t", target_arn=TARGET, payload="{}",
        dead_letter_body='{"id": "e1"}', rule_arn="arn:aws:events:us-east-1:000000000000:rule/r",
        maximum_retry_attempts=retries, maximum_event_age=event_age, dead_letter_arn=QUEUE,
    )  # fmt: skip
    record = DeliveryRecord.of(
        delivery, 1, attempts=attempts, errors=["Boom: down"] * attempts, created_at=START, status=status
    )
    journal = Journal(path)
    with journal.transaction():
        journal.add_delivery(DeliveryRow(1, "e1", delivery.journaled(), record.progress()))
    journal.close()


def _restarted(path: Path, clock: VirtualClock, handler: Any) -> EventBridge:
    bridge = EventBridge(clock=clock)
    bridge.dispatcher.backoff = RetryBackoff(initial=0.0)
    bridge.invoker.register(TARGET, handler)
    bridge.keep_in(Journal(path))
    return bridge


def _failing(calls: list[str]) -> Any:
    def handler(payload: str) -> None:
        calls.append(payload)
        raise RuntimeError("still down")

    return handler


def test_a_redelivery_goes_on_from_the_attempts_the_journal_holds(path: Path) -> None:
    _journaled_delivery(path, attempts=2, retries=3, event_age=86400, status="CANCELLED")
    calls: list[str] = []
    bridge = _restarted(path, VirtualClock(START + timedelta(seconds=10)), _failing(calls))
    bridge.redeliver_unfinished()
    assert bridge.wait_idle(10)
    (record,) = bridge.deliveries()
    assert len(calls) == 2, "1 + 3 attempts in all, 2 of them made before the stop"
    assert (record.status, record.attempts) == ("DEAD_LETTERED", 4)
    (message,) = bridge.dead_letters.messages(QUEUE)
    assert message.attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert message.attributes["RETRY_ATTEMPTS"] == "3"
    bridge.close()


def test_a_redelivery_with_no_attempt_left_is_dead_lettered_unattempted(path: Path) -> None:
    _journaled_delivery(path, attempts=3, retries=2, event_age=86400, status="PENDING")
    calls: list[str] = []
    bridge = _restarted(path, VirtualClock(START + timedelta(seconds=10)), _failing(calls))
    bridge.redeliver_unfinished()
    assert bridge.wait_idle(10)
    assert calls == []
    (message,) = bridge.dead_letters.messages(QUEUE)
    assert message.attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert (message.attributes["ERROR_CODE"], message.attributes["RETRY_ATTEMPTS"]) == ("Boom", "2")
    bridge.close()


def test_an_event_older_than_its_maximum_age_is_not_attempted_again(path: Path) -> None:
    _journaled_delivery(path, attempts=1, retries=185, event_age=3600, status="PENDING")
    calls: list[str] = []
    bridge = _restarted(path, VirtualClock(START + timedelta(hours=2)), _failing(calls))
    bridge.redeliver_unfinished()
    assert bridge.wait_idle(10)
    assert calls == [], "the event is two hours old: its retries ended after one"
    (record,) = bridge.deliveries()
    assert (record.status, record.attempts) == ("DEAD_LETTERED", 1)
    (message,) = bridge.dead_letters.messages(QUEUE)
    assert message.attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert json.loads(message.body) == {"id": "e1"}
    bridge.close()
