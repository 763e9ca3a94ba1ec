"""Local SQS messages survive a restart of the runtime, as the rest of its state does.

Amazon SQS keeps a message until a consumer deletes it or its retention period ends, and a message
received but not deleted becomes visible again when its visibility timeout ends ("Amazon SQS
visibility timeout", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html);
a message received maxReceiveCount times moves to the dead-letter queue ("Using dead-letter queues in
Amazon SQS").
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rsetl.clock import VirtualClock
from rsetl.sqs import SqsService
from rsetl.sqs.store import STORE_FILE, MessageStore

START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
ARN = "arn:aws:sqs:us-east-1:000000000000:"


def started(state_dir: Path, clock: VirtualClock) -> SqsService:
    sqs = SqsService(clock=clock, state_dir=state_dir)
    sqs.create_queue("dead", {})
    sqs.create_queue(
        "work",
        {
            "VisibilityTimeout": 30,
            "RedrivePolicy": {"deadLetterTargetArn": ARN + "dead", "maxReceiveCount": 2},
        },
    )
    return sqs


def test_messages_sent_and_not_deleted_are_there_after_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    sqs = started(tmp_path, clock)
    for n in range(4):
        sqs.send_message(ARN + "work", f"message {n}", {"n": str(n)})
    first, second = sqs.receive(ARN + "work", 2, 30)
    sqs.delete(ARN + "work", first.receipt_handle)

    again = started(tmp_path, clock)
    assert again.messages_left(ARN + "work") == 3
    assert again.visible_messages(ARN + "work") == ["message 2", "message 3"], "message 1 is still in flight"
    clock.sleep(31)
    received = again.receive(ARN + "work", 10, 30)
    assert [m.body for m in received] == ["message 1", "message 2", "message 3"]
    assert received[0].message_id == second.message_id
    assert received[0].attributes["ApproximateReceiveCount"] == "2"
    assert received[1].message_attributes == {"n": {"DataType": "String", "StringValue": "2"}}


def test_a_message_redriven_to_the_dead_letter_queue_stays_there_after_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    sqs = started(tmp_path, clock)
    sqs.send_message(ARN + "work", json.dumps({"bad": True}))
    for _ in range(2):
        assert len(sqs.receive(ARN + "work", 1, 30)) == 1
        clock.sleep(31)
    assert sqs.receive(ARN + "work", 1, 30) == []

    again = started(tmp_path, clock)
    assert again.messages_left(ARN + "work") == 0
    assert again.visible_messages(ARN + "dead") == [json.dumps({"bad": True})]


def test_without_a_state_directory_nothing_is_kept() -> None:
    sqs = SqsService(clock=VirtualClock(START))
    sqs.create_queue("work", {})
    sqs.send_message(ARN + "work", "gone")
    again = SqsService(clock=VirtualClock(START))
    again.create_queue("work", {})
    assert again.messages_left(ARN + "work") == 0


def test_a_redrive_moves_the_stored_message_in_one_transaction(tmp_path: Path, monkeypatch: Any) -> None:
    # "Using dead-letter queues in Amazon SQS": past maxReceiveCount the message moves to the
    # dead-letter queue; it is never lost between the two queues, so a crash mid-move must not drop it.
    clock = VirtualClock(START)
    sqs = started(tmp_path, clock)
    sqs.send_message(ARN + "work", "bad")
    for _ in range(2):
        assert len(sqs.receive(ARN + "work", 1, 30)) == 1
        clock.sleep(31)
    db = sqlite3.connect(tmp_path / STORE_FILE)
    (seq_before,) = db.execute("SELECT seq FROM messages").fetchone()
    transactions: list[Any] = []
    write = MessageStore._write

    def counted(self: MessageStore, *args: Any, **kwargs: Any) -> None:
        transactions.append(args)
        write(self, *args, **kwargs)

    monkeypatch.setattr(MessageStore, "_write", counted)
    assert sqs.receive(ARN + "work", 1, 30) == []
    assert len(transactions) == 1
    assert db.execute("SELECT seq, queue FROM messages").fetchall() == [(seq_before, "dead")], (
        "the row's queue changed in place (one UPDATE), not deleted and inserted again"
    )


def test_a_delete_drops_only_the_row_of_its_queue(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    sqs = started(tmp_path, clock)
    sqs.send_message(ARN + "work", "kept")
    store = MessageStore(tmp_path)
    (message_id,) = sqs._store._known["work"]  # type: ignore[union-attr]
    store._write([], durable=False, gone=[(message_id, "dead")])
    assert started(tmp_path, clock).visible_messages(ARN + "work") == ["kept"]
