"""The journal (SQLite in the state dir) and the services that write through it.

What a restart must keep is what the Step Functions and EventBridge APIs show: DescribeExecution's
status, input, output, error, cause and dates ("DescribeExecution",
https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html),
GetExecutionHistory's events, and the events a bus accepted, whose delivery EventBridge retries until it
succeeds or the retry policy runs out ("How EventBridge retries delivering events",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router
from rsetl.clock import VirtualClock
from rsetl.errors import RUNTIME_STOPPED
from rsetl.eventbridge import EventBridge, Scheduler
from rsetl.journal import (
    DeliveryRow,
    EventRow,
    ExecutionRow,
    Journal,
    ScheduleFire,
)
from rsetl.s3 import S3Service
from rsetl.stepfunctions import StepFunctionsEngine
from rsetl.stepfunctions.interpreter import Execution

START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"done": True}, "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}
TARGET = "arn:aws:states:us-east-1:000000000000:stateMachine:Target"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def test_rows_of_every_kind_are_read_back_from_a_reopened_file(path: Path) -> None:
    journal = Journal(path)
    execution = ExecutionRow(
        "arn:x", "x", "arn:m", "arn:role", "SUCCEEDED", '{"a": 1}', '{"b": 2}', None, None, START,
        START + timedelta(seconds=3),
    )  # fmt: skip
    journal.save_execution(execution)
    journal.add_history_event("arn:x", {"id": 1, "type": "ExecutionStarted", "timestamp": START})
    event = EventRow("e1", "default", START, {"source": "s", "detail": {"k": "v"}}, ("arn:rule",))
    journal.add_event(event)
    journal.add_delivery(DeliveryRow(1, "e1", {"payload": "{}"}, {"status": "PENDING", "attempts": 0}))
    journal.update_delivery(1, {"status": "SUCCEEDED", "attempts": 1})
    journal.save_schedule_fire(
        "arn:schedule", ScheduleFire("rate(1 hour)", START, START + timedelta(hours=1))
    )
    journal.close()

    again = Journal(path)
    assert again.executions() == [execution]
    assert again.histories() == {"arn:x": [{"id": 1, "type": "ExecutionStarted", "timestamp": START}]}
    assert again.events() == [event]
    assert again.deliveries() == [
        DeliveryRow(1, "e1", {"payload": "{}"}, {"status": "SUCCEEDED", "attempts": 1})
    ]
    assert again.schedule_fire("arn:schedule") == ScheduleFire(
        "rate(1 hour)", START, START + timedelta(hours=1)
    )
    assert again.schedule_fire("arn:other") is None
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def test_a_transaction_commits_once_at_its_outermost_end_and_rolls_back_on_error(path: Path) -> None:
    journal = Journal(path)
    reader = sqlite3.connect(path)
    with journal.transaction():
        journal.add_event(EventRow("e1", "default", START, {}, ()))
        with journal.transaction():
            journal.add_event(EventRow("e2", "default", START, {}, ()))
        assert reader.execute("SELECT count(*) FROM events").fetchone() == (0,), "not before the end"
    assert reader.execute("SELECT count(*) FROM events").fetchone() == (2,)
    with pytest.raises(RuntimeError), journal.transaction():
        journal.add_event(EventRow("e3", "default", START, {}, ()))
        raise RuntimeError("cut short")
    assert [row.id for row in journal.events()] == ["e1", "e2"]


def test_writes_after_close_are_not_made(path: Path) -> None:
    journal = Journal(path)
    journal.close()
    journal.add_event(EventRow("late", "default", START, {}, ()))
    with journal.transaction():
        journal.add_event(EventRow("later", "default", START, {}, ()))
    assert Journal(path).events() == []


# -- Step Functions ---------------------------------------------------------------------------


def _engine(journal: Journal, status_events: list[dict[str, Any]] | None = None) -> StepFunctionsEngine:
    sink = status_events.append if status_events is not None else None
    engine = StepFunctionsEngine(VirtualClock(START), journal=journal, status_events=sink)
    engine.create_state_machine("pass", json.dumps(PASS))
    engine.create_state_machine("fail", json.dumps(FAIL))
    return engine


def test_finished_executions_and_their_histories_are_loaded_by_the_next_engine(path: Path) -> None:
    journal = Journal(path)
    first = _engine(journal)
    succeeded = first.start_execution(first.machine_arn("pass"), {"file": "a.csv"}, "ok", wait=True)
    failed = first.start_execution(first.machine_arn("fail"), {"file": "b.csv"}, "ko", wait=True)
    journal.close()  # a stop: the last group of progress is committed

    second = _engine(Journal(path))
    loaded = second.execution(succeeded.arn)
    assert second.describe(loaded) == first.describe(succeeded)
    assert loaded.history.events == succeeded.history.events
    assert loaded.done.is_set()
    again = second.describe(second.execution(failed.arn))
    assert (again["status"], again["error"], again["cause"]) == ("FAILED", "Boom", "on purpose")
    assert second.restart_interrupted() == []


def test_a_started_execution_is_in_the_journal_before_start_returns(path: Path) -> None:
    engine = StepFunctionsEngine(VirtualClock(START), journal=Journal(path))
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}
    arn = engine.create_state_machine("w", json.dumps(waiting)).arn
    gate = threading.Event()

    def held(execution: Execution) -> None:
        gate.wait(10)

    engine.interpreter.run = held  # type: ignore[method-assign]
    try:
        started = engine.start_execution(arn, {"k": 1}, "held")
        rows = sqlite3.connect(path).execute(
            "SELECT status, input FROM executions WHERE arn = ?", (started.arn,)
        )
        assert rows.fetchall() == [("RUNNING", '{"k": 1}')]
    finally:
        gate.set()


def _interrupted(journal: Journal, machine_arn: str, name: str, input_value: Any) -> str:
    """What a runtime killed during an execution leaves in its journal: a RUNNING row, a started event."""
    arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    journal.save_execution(
        ExecutionRow(
            arn, name, machine_arn, "", "RUNNING", json.dumps(input_value), None, None, None, START, None
        )
    )
    journal.add_history_event(
        arn, {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": START}
    )
    return arn


def test_an_execution_running_at_a_crash_is_aborted_and_started_again_from_its_input(path: Path) -> None:
    journal = Journal(path)
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:pass"
    old_arn = _interrupted(journal, machine, "ingest-1", {"file": "c.csv"})
    status_events: list[dict[str, Any]] = []
    engine = _engine(journal, status_events)
    (restart,) = engine.restart_interrupted()
    assert restart.interrupted == old_arn
    assert restart.restarted_as == machine.replace(":stateMachine:", ":execution:") + ":ingest-1-restart-1"
    old = engine.describe(engine.execution(old_arn))
    assert (old["status"], old["error"]) == ("ABORTED", RUNTIME_STOPPED)
    assert restart.restarted_as in old["cause"]
    assert [e["type"] for e in engine.execution(old_arn).history.events] == [
        "ExecutionStarted",
        "ExecutionAborted",
    ]
    new = engine.wait(restart.restarted_as, 10)
    assert (new.status, new.input) == ("SUCCEEDED", {"file": "c.csv"})
    aborted = [
        json.loads(e["Detail"]) for e in status_events if json.loads(e["Detail"])["status"] == "ABORTED"
    ]
    assert [detail["executionArn"] for detail in aborted] == [old_arn]
    assert engine.restart_interrupted() == [], "each interrupted execution is restarted once"
    journal.close()

    reloaded = _engine(Journal(path))
    assert reloaded.describe(reloaded.execution(old_arn))["status"] == "ABORTED"
    assert reloaded.describe(reloaded.execution(restart.restarted_as))["status"] == "SUCCEEDED"
    assert reloaded.restart_interrupted() == []


def test_a_restart_of_a_restart_gets_the_next_number(path: Path) -> None:
    journal = Journal(path)
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:pass"
    _interrupted(journal, machine, "run-restart-1", {})
    _interrupted(journal, machine, "x" * 80, {})
    engine = _engine(journal)
    names = sorted(str(r.restarted_as).rpartition(":")[2] for r in engine.restart_interrupted())
    assert names == ["run-restart-2", "x" * 70 + "-restart-1"]


def test_an_interrupted_execution_of_a_machine_that_is_gone_is_aborted_only(path: Path) -> None:
    journal = Journal(path)
    old_arn = _interrupted(journal, "arn:aws:states:us-east-1:000000000000:stateMachine:gone", "g", {})
    engine = _engine(journal)
    (restart,) = engine.restart_interrupted()
    assert restart.restarted_as is None
    assert "no longer exists" in str(engine.execution(old_arn).cause)


# -- EventBridge ------------------------------------------------------------------------------


def _bridge(journal: Journal, handler: Any) -> EventBridge:
    bridge = EventBridge(clock=VirtualClock(START))
    bridge.invoker.register(TARGET, handler)
    bridge.keep_in(journal)
    bridge.put_rule("all", event_pattern={"source": ["app"]})
    bridge.put_targets("all", [{"Id": "t", "Arn": TARGET}])
    return bridge


ENTRY = {"Source": "app", "DetailType": "Thing Happened", "Detail": json.dumps({"n": 1})}


def test_an_accepted_event_and_its_delivery_are_journaled_before_put_events_answers(path: Path) -> None:
    gate = threading.Event()
    bridge = _bridge(Journal(path), lambda payload: gate.wait(10))
    try:
        (entry,) = bridge.put_events([ENTRY])["Entries"]
        reader = sqlite3.connect(path)
        assert reader.execute("SELECT id FROM events").fetchall() == [(entry["EventId"],)]
        (record,) = reader.execute("SELECT record FROM deliveries").fetchone()
        assert json.loads(record)["status"] == "PENDING"
    finally:
        gate.set()
        bridge.close()


def test_a_delivery_unfinished_at_a_crash_is_made_again_by_the_next_start(path: Path) -> None:
    gate, attempted = threading.Event(), threading.Event()
    crashed_journal = Journal(path)

    def attempt(payload: object) -> bool:
        attempted.set()
        return gate.wait(10)

    crashed = _bridge(crashed_journal, attempt)
    (entry,) = crashed.put_events([ENTRY])["Entries"]
    assert attempted.wait(10)
    crashed_journal.close()  # the runtime stops during the attempt: its delivery has not ended
    delivered: list[str] = []
    restarted_journal = Journal(path)
    restarted = _bridge(restarted_journal, delivered.append)
    try:
        assert [record.event_id for record in restarted.events()] == [entry["EventId"]]
        (redelivered,) = restarted.redeliver_unfinished()
        assert restarted.wait_idle(10)
        assert json.loads(delivered[0])["id"] == entry["EventId"]
        (record,) = restarted.deliveries()
        # The attempt the crash cut short counts: attempts go on from the journal.
        assert (record.status, record.redeliveries, record.attempts) == ("SUCCEEDED", 1, 2)
        assert redelivered is record
        assert restarted.redeliver_unfinished() == []
        restarted_journal.close()
        again = _bridge(Journal(path), delivered.append)
        assert again.redeliver_unfinished() == [], "a delivery that ended is not made again"
        assert again.deliveries()[0].redeliveries == 1
        again.close()
    finally:
        gate.set()
        for bridge in (crashed, restarted):
            bridge.close()


def test_a_delivery_cancelled_by_a_stop_is_made_again(path: Path) -> None:
    bridge = _bridge(Journal(path), lambda payload: (_ for _ in ()).throw(RuntimeError("down")))
    bridge.dispatcher._closed.set()  # what close() sets first: the retry loop ends CANCELLED
    bridge.put_events([ENTRY])
    assert bridge.wait_idle(10)
    assert [r.status for r in bridge.deliveries()] == ["CANCELLED"]
    bridge.close()
    delivered: list[str] = []
    again = _bridge(Journal(path), delivered.append)
    assert len(again.redeliver_unfinished()) == 1
    assert again.wait_idle(10) and len(delivered) == 1
    again.close()


# -- schedules --------------------------------------------------------------------------------


def _scheduled(journal: Journal, clock: VirtualClock, delivered: list[str]) -> Scheduler:
    bridge = EventBridge(clock=clock)
    bridge.invoker.register(TARGET, delivered.append)
    bridge.keep_in(journal)
    scheduler = Scheduler(bridge)
    scheduler.keep_in(journal)
    bridge.put_rule("nightly", schedule_expression="cron(0 2 * * ? *)")
    bridge.put_targets("nightly", [{"Id": "t", "Arn": TARGET}])
    bridge.put_rule("hourly", schedule_expression="rate(1 hour)")
    bridge.put_targets("hourly", [{"Id": "t", "Arn": TARGET}])
    return scheduler


def test_a_restart_on_the_same_virtual_time_does_not_fire_an_instant_twice(path: Path) -> None:
    delivered: list[str] = []
    first = _scheduled(Journal(path), VirtualClock(START), delivered)
    assert first.run_until(START + timedelta(hours=5)) == 1 + 5
    fired = {json.loads(p)["time"] for p in delivered}
    delivered.clear()
    second = _scheduled(Journal(path), VirtualClock(START), delivered)
    assert second.run_until(START + timedelta(hours=5)) == 0
    assert second.run_until(START + timedelta(hours=6, minutes=30)) == 1
    assert [json.loads(p)["time"] for p in delivered] == ["2026-11-07T04:00:00Z"]
    assert not fired & {json.loads(p)["time"] for p in delivered}


def test_a_rate_keeps_the_anchor_of_its_first_run(path: Path) -> None:
    delivered: list[str] = []
    _scheduled(Journal(path), VirtualClock(START), delivered)._sync()
    later = VirtualClock(START + timedelta(minutes=25))
    second = _scheduled(Journal(path), later, delivered)
    second.run_until(START + timedelta(hours=1, minutes=30))
    assert [json.loads(p)["time"] for p in delivered] == ["2026-11-06T23:00:00Z"]


def test_an_s3_notification_is_journaled_before_the_put_is_answered(path: Path, tmp_path: Path) -> None:
    """S3 sends "Object Created" for every stored object ("Using EventBridge",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html): the event and its delivery
    are committed before the PUT's answer, so a crash after the answer cannot lose them."""
    gate = threading.Event()
    bridge = EventBridge(clock=VirtualClock(START))
    bridge.invoker.register(TARGET, lambda payload: gate.wait(10))
    bridge.keep_in(Journal(path))
    bridge.put_rule("uploads", event_pattern={"source": ["aws.s3"], "detail-type": ["Object Created"]})
    bridge.put_targets("uploads", [{"Id": "t", "Arn": TARGET}])
    service = S3Service(event_sink=bridge.publish, state_dir=tmp_path / "s3")
    service.create_bucket("landing", eventbridge=True)
    router = Router()
    router.register(service, fallback=True)
    try:
        with LocalServer(router) as server:
            s3 = boto3.client(
                "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                aws_secret_access_key="test",
            )  # fmt: skip
            etag = s3.put_object(Bucket="landing", Key="sales/a.csv", Body=b"a\n")["ETag"].strip('"')
            reader = sqlite3.connect(path)
            ((event,),) = reader.execute("SELECT event FROM events").fetchall()
            assert json.loads(event)["detail"]["object"] == {
                **json.loads(event)["detail"]["object"],
                "key": "sales/a.csv",
                "etag": etag,
            }
            assert reader.execute("SELECT count(*) FROM deliveries").fetchone() == (1,)
    finally:
        gate.set()
        bridge.close()


def test_an_object_stored_before_its_event_was_journaled_is_journaled_by_the_next_start(
    path: Path, tmp_path: Path
) -> None:
    """S3's notifications are "delivered at least once" ("Amazon S3 Event Notifications",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/NotificationHowTo.html): a runtime killed
    after the object's write, before its event reached the journal, leaves the notification in the
    S3 outbox, and the next start journals the event with its delivery, once."""
    crashed = tmp_path / "crashed"

    def killed_here(entries: list[dict[str, Any]]) -> None:
        shutil.copytree(tmp_path / "s3", crashed)
        raise RuntimeError("killed before the journal")

    service = S3Service(event_sink=killed_here, state_dir=tmp_path / "s3")
    service.create_bucket("landing", eventbridge=True)
    router = Router()
    router.register(service, fallback=True)
    with LocalServer(router) as server:
        s3 = boto3.client(
            "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        with pytest.raises(ClientError, match="InternalServerException"):
            s3.put_object(Bucket="landing", Key="sales/kill.csv", Body=b"a\n")
    delivered: list[str] = []
    for run in range(2):
        journal = Journal(path)
        bridge = EventBridge(clock=VirtualClock(START))
        bridge.invoker.register(TARGET, delivered.append)
        bridge.keep_in(journal)
        bridge.put_rule("uploads", event_pattern={"source": ["aws.s3"], "detail-type": ["Object Created"]})
        bridge.put_targets("uploads", [{"Id": "t", "Arn": TARGET}])
        restarted = S3Service(event_sink=bridge.publish, state_dir=crashed)
        restarted.create_bucket("landing", eventbridge=True)
        sent = restarted.send_pending_notifications()
        assert [n.key for n in sent] == (["sales/kill.csv"] if run == 0 else []), f"start {run + 1}"
        assert bridge.wait_idle(10)
        bridge.close()
        journal.close()
    reader = sqlite3.connect(path)
    ((event,),) = reader.execute("SELECT event FROM events").fetchall()
    etag = restarted.get_object("landing", "sales/kill.csv").etag
    assert json.loads(event)["detail"]["object"]["etag"] == etag
    assert [json.loads(payload)["detail"]["object"]["key"] for payload in delivered] == ["sales/kill.csv"]


def test_a_stopping_journal_writes_acknowledgements_but_no_progress(path: Path) -> None:
    journal = Journal(path)
    journal.acknowledgements_only()
    journal.add_event(EventRow("progress", "default", START, {}, ()))
    with journal.transaction():
        journal.add_event(EventRow("acknowledged", "default", START, {}, ()))
    journal.close()
    assert [row.id for row in Journal(path).events()] == ["acknowledged"]
