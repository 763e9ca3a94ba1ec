"""What a restart does with the journal's unfinished work, as AWS would have gone on with it.

Deliveries keep their retry budget across a restart: EventBridge retries "until either the maximum
number of attempts is made or until the duration of the MaximumEventAgeInSeconds is met" (EventBridge
API Reference, "RetryPolicy", https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html;
User Guide, "Using dead-letter queues to process undelivered events",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.eventbridge import EventBridge, Scheduler
from rsetl.eventbridge.delivery import Delivery, DeliveryRecord, RetryBackoff
from rsetl.eventbridge.scheduler import MissedFires
from rsetl.journal import DeliveryRow, EventRow, ExecutionRow, Journal
from rsetl.stepfunctions import StepFunctionsEngine

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


# -- executions -------------------------------------------------------------------------------

MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:pass"


def _result(value: int) -> str:
    return json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": value}, "End": True}}}
    )


def _engine(journal: Journal, status_events: list[dict[str, Any]] | None = None) -> StepFunctionsEngine:
    sink = status_events.append if status_events is not None else None
    engine = StepFunctionsEngine(VirtualClock(START), journal=journal, status_events=sink)
    engine.create_state_machine("pass", _result(2), "arn:aws:iam::000000000000:role/now")
    return engine


def _interrupted(journal: Journal, name: str, definition: str | None) -> str:
    """What a runtime killed during an execution leaves in its journal: a RUNNING row, a started event."""
    arn = MACHINE.replace(":stateMachine:", ":execution:") + f":{name}"
    journal.save_execution(
        ExecutionRow(
            arn, name, MACHINE, "arn:aws:iam::000000000000:role/then", "RUNNING", "{}", None, None, None,
            START, None, definition=definition,
        )
    )  # fmt: skip
    journal.add_history_event(
        arn, {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": START}
    )
    return arn


def test_an_execution_is_journaled_with_the_definition_it_started_with(path: Path) -> None:
    journal = Journal(path)
    engine = _engine(journal)
    execution = engine.start_execution(MACHINE, {}, "run", wait=True)
    journal.close()
    ((definition,),) = sqlite3.connect(path).execute(
        "SELECT definition FROM executions WHERE arn = ?", (execution.arn,)
    )
    assert json.loads(definition) == json.loads(_result(2))


def test_a_restarted_execution_runs_the_definition_and_role_it_started_with(path: Path) -> None:
    """UpdateStateMachine: "Running executions will continue to use the previous definition and
    roleArn" (Step Functions API Reference, "UpdateStateMachine",
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_UpdateStateMachine.html)."""
    journal = Journal(path)
    _interrupted(journal, "run", _result(1))
    engine = _engine(journal)
    (restart,) = engine.restart_interrupted()
    assert restart.restarted_as is not None and restart.error is None
    again = engine.wait(restart.restarted_as, 10)
    assert again.output == {"v": 1}, "the definition of its start, not the template's current one"
    assert again.role_arn == "arn:aws:iam::000000000000:role/then"


def test_an_execution_that_cannot_be_restarted_is_reported_and_the_others_go_on(path: Path) -> None:
    journal = Journal(path)
    broken = _interrupted(journal, "broken", _result(1))
    fine = _interrupted(journal, "fine", _result(1))
    engine = _engine(journal)
    save = journal.save_execution

    def disk_full_for_broken(row: ExecutionRow) -> None:
        if row.arn == broken:
            raise sqlite3.OperationalError("database or disk is full")
        save(row)

    journal.save_execution = disk_full_for_broken  # type: ignore[method-assign]
    by_arn = {restart.interrupted: restart for restart in engine.restart_interrupted()}
    assert by_arn[broken].restarted_as is None
    assert by_arn[broken].error == "OperationalError: database or disk is full"
    restarted = by_arn[fine].restarted_as
    assert by_arn[fine].error is None and restarted is not None
    assert engine.wait(restarted, 10).status == "SUCCEEDED"


def test_an_execution_s_end_is_committed_durably_before_its_status_event_is_delivered(path: Path) -> None:
    """A SUCCEEDED end lost in a crash would run the execution again at the next start: the end is
    written in a durable transaction (with its "Step Functions Execution Status Change" event), and the
    event reaches a target only once that is committed."""
    reader = sqlite3.connect(path, check_same_thread=False)
    journal = Journal(path)
    bridge = EventBridge(clock=VirtualClock(START))
    bridge.keep_in(journal)
    delivered: list[tuple[str, str]] = []

    def status_target(payload: str) -> None:
        detail = json.loads(payload)["detail"]
        row = reader.execute("SELECT status FROM executions WHERE arn = ?", (detail["executionArn"],))
        delivered.append((detail["status"], row.fetchone()[0]))

    bridge.invoker.register(TARGET, status_target)
    bridge.put_rule("status", event_pattern={"source": ["aws.states"]})
    bridge.put_targets("status", [{"Id": "t", "Arn": TARGET}])
    saved, open_transactions, transaction = [], threading.local(), journal.transaction

    @contextmanager
    def counted() -> Iterator[None]:
        open_transactions.depth = getattr(open_transactions, "depth", 0) + 1
        try:
            with transaction():
                yield
        finally:
            open_transactions.depth -= 1

    save = journal.save_execution

    def spied(row: ExecutionRow) -> None:
        saved.append((row.status, getattr(open_transactions, "depth", 0) > 0))
        save(row)

    journal.transaction = counted  # type: ignore[method-assign]
    journal.save_execution = spied  # type: ignore[method-assign]
    engine = StepFunctionsEngine(
        VirtualClock(START), journal=journal, status_events=lambda entry: bridge.publish([entry])
    )
    engine.create_state_machine("pass", _result(2))
    engine.start_execution(MACHINE, {}, "run", wait=True)
    assert bridge.wait_idle(10)
    assert saved == [("RUNNING", True), ("SUCCEEDED", True)]
    # Each event finds its status on disk, or a later one: the RUNNING event's delivery may come after
    # the execution has ended (a loaded machine), never before its start was committed.
    assert sorted(delivered) in (
        [("RUNNING", "RUNNING"), ("SUCCEEDED", "SUCCEEDED")],
        [("RUNNING", "SUCCEEDED"), ("SUCCEEDED", "SUCCEEDED")],
    )
    bridge.close()
    journal.close()


# -- schedules --------------------------------------------------------------------------------


def _scheduling(journal: Journal, clock: VirtualClock, delivered: list[str]) -> tuple[EventBridge, Scheduler]:
    bridge = EventBridge(clock=clock)
    bridge.invoker.register(TARGET, delivered.append)
    bridge.keep_in(journal)
    scheduler = Scheduler(bridge)
    scheduler.keep_in(journal)
    return bridge, scheduler


def _hourly(bridge: EventBridge) -> None:
    bridge.put_rule("hourly", schedule_expression="rate(1 hour)")
    bridge.put_targets("hourly", [{"Id": "t", "Arn": TARGET}])


def _times(delivered: list[str]) -> list[str]:
    return [json.loads(payload)["time"] for payload in delivered]


def test_a_rule_re_created_under_its_name_is_anchored_at_its_own_creation(path: Path) -> None:
    """A rate schedule runs every period from when it is created ("Rate-based schedules",
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html): a deleted rule's anchor
    is not its successor's."""
    clock = VirtualClock(START)
    delivered: list[Any] = []
    bridge, scheduler = _scheduling(Journal(path), clock, delivered)
    _hourly(bridge)
    scheduler.run_until(START + timedelta(minutes=10))
    bridge.remove_targets("hourly", ["t"])
    bridge.delete_rule("hourly")
    scheduler.run_until(START + timedelta(minutes=25))
    _hourly(bridge)
    scheduler.run_until(START + timedelta(hours=2))
    assert _times(delivered) == ["2026-11-06T23:25:00Z"]


def test_a_schedule_re_created_under_its_name_is_anchored_at_its_own_creation(path: Path) -> None:
    clock = VirtualClock(START)
    delivered: list[Any] = []
    _, scheduler = _scheduling(Journal(path), clock, delivered)
    target = {"Arn": TARGET, "RoleArn": "arn:aws:iam::000000000000:role/scheduler"}
    scheduler.create_schedule("every-hour", "rate(1 hour)", target)
    scheduler.run_until(START + timedelta(minutes=10))
    scheduler.delete_schedule("every-hour")
    clock.advance_to(START + timedelta(minutes=40))
    scheduler.create_schedule("every-hour", "rate(1 hour)", target)
    scheduler.run_until(START + timedelta(hours=2))
    assert [json.loads(p) for p in delivered] == [{}]
    (record,) = scheduler.bridge.deliveries()
    assert record.created_at == START + timedelta(hours=1, minutes=40)


def test_a_rule_of_the_last_run_that_is_no_longer_wired_leaves_no_anchor(path: Path) -> None:
    journal = Journal(path)
    bridge, scheduler = _scheduling(journal, VirtualClock(START), [])
    _hourly(bridge)
    scheduler.run_until(START + timedelta(minutes=5))
    journal.close()
    delivered: list[str] = []
    journal = Journal(path)
    bridge, scheduler = _scheduling(journal, VirtualClock(START + timedelta(minutes=25)), delivered)
    assert scheduler.resume() == []
    assert journal.scheduled() == [], "the rule of the last run is not wired in this one"
    _hourly(bridge)
    scheduler.run_until(START + timedelta(hours=2))
    assert _times(delivered) == ["2026-11-06T23:25:00Z"]


def test_the_instants_missed_while_down_are_reported_and_not_fired_late(path: Path) -> None:
    """EventBridge fires a schedule at its instants from its start on, never for past ones ("StartDate:
    The date, in UTC, after which the schedule can begin invoking its target", EventBridge Scheduler API
    Reference, "CreateSchedule", https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html)."""
    journal = Journal(path)
    bridge, scheduler = _scheduling(journal, VirtualClock(START), [])
    _hourly(bridge)
    bridge.put_rule("nightly", schedule_expression="cron(0 2 * * ? *)")
    bridge.put_targets("nightly", [{"Id": "t", "Arn": TARGET}])
    assert scheduler.run_until(START + timedelta(hours=1, minutes=30)) == 1  # 23:00
    journal.close()
    delivered: list[str] = []
    bridge, scheduler = _scheduling(
        Journal(path), VirtualClock(START + timedelta(hours=5, minutes=30)), delivered
    )
    _hourly(bridge)
    bridge.put_rule("nightly", schedule_expression="cron(0 2 * * ? *)")
    bridge.put_targets("nightly", [{"Id": "t", "Arn": TARGET}])
    missed = {m.schedule_arn.rpartition("/")[2]: m for m in scheduler.resume()}
    day = datetime(2026, 11, 7, tzinfo=UTC)
    assert missed["hourly"] == MissedFires(missed["hourly"].schedule_arn, 4, day, day + timedelta(hours=3))
    assert (missed["nightly"].count, missed["nightly"].first) == (1, day + timedelta(hours=2))
    scheduler.run_until(START + timedelta(hours=6, minutes=30))
    assert _times(delivered) == ["2026-11-07T04:00:00Z"]


# -- the background writer --------------------------------------------------------------------


def test_progress_queued_for_the_writer_is_on_disk_with_the_next_durable_transaction(path: Path) -> None:
    """History events go to the background writer; a durable transaction after them (an execution's
    end) writes them first, so a history is never behind the end it closes."""
    journal = Journal(path)
    journal.add_history_event("arn:x", {"id": 1, "type": "ExecutionStarted", "timestamp": START})
    with journal.transaction():
        journal.add_event(EventRow("e1", "default", START, {}, ()))
    rows = sqlite3.connect(path).execute("SELECT execution_arn, id FROM history_events").fetchall()
    assert rows == [("arn:x", 1)]
    journal.close()


def test_a_delivery_starts_only_once_the_transaction_that_accepted_it_has_committed(path: Path) -> None:
    reader = sqlite3.connect(path, check_same_thread=False)
    journal = Journal(path)
    seen: list[int] = []
    bridge = EventBridge(clock=VirtualClock(START))
    bridge.invoker.register(
        TARGET, lambda payload: seen.append(reader.execute("SELECT count(*) FROM events").fetchone()[0])
    )
    bridge.keep_in(journal)
    bridge.put_rule("all", event_pattern={"source": ["app"]})
    bridge.put_targets("all", [{"Id": "t", "Arn": TARGET}])
    entry = {"Source": "app", "DetailType": "Thing", "Detail": "{}"}
    with journal.transaction():
        bridge.put_events([entry])
        time.sleep(0.2)  # a delivery started here would read the event uncommitted, as 0 rows
    assert bridge.wait_idle(10)
    assert seen == [1]
    bridge.close()
    journal.close()
