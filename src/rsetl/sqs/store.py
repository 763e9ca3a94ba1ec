"""The local queues' messages in SQLite, so a restart finds what was sent and not yet deleted.

SendMessage answers once its message is stored (Amazon SQS stores a message redundantly before it
acknowledges it: "Amazon SQS basic architecture", Lifecycle of an Amazon SQS message), so a send is a
transaction committed with `synchronous=FULL`. Receives, visibility changes, deletes and redrives to a
dead-letter queue are written with `synchronous=NORMAL`: one lost to a `kill -9` makes a message come
back once more, which a standard queue may do anyway ("at-least-once delivery"). A redrive is one
transaction (the row changes queue), so a crash never loses the message between the two queues.

A message's receipt handle is not kept: the consumer that held it stopped with the runtime, and the
message is received again when its visibility timeout ends, as on AWS.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from moto.sqs.models import Message

STORE_FILE = "messages.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    message_attributes TEXT NOT NULL,
    sent_timestamp INTEGER,
    receive_count INTEGER NOT NULL,
    first_receive_timestamp INTEGER,
    visible_at REAL NOT NULL,
    delayed_until REAL NOT NULL
);
"""
_UPSERT = """
INSERT INTO messages (id, queue, body, message_attributes, sent_timestamp, receive_count,
                      first_receive_timestamp, visible_at, delayed_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    queue = excluded.queue, receive_count = excluded.receive_count,
    first_receive_timestamp = excluded.first_receive_timestamp, visible_at = excluded.visible_at
"""


class MessageStore:
    """Every message the local queues hold, written through as moto's backend changes them."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state_dir / STORE_FILE, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._known: dict[str, set[str]] = {}
        """Ids stored per queue: a message deleted while another thread wrote it is not written back."""

    def restore(self, queue: Any) -> None:
        """Put back into moto's `queue` the messages stored for it, oldest first."""
        rows = self._db.execute(
            "SELECT id, body, message_attributes, sent_timestamp, receive_count, first_receive_timestamp,"
            " visible_at, delayed_until FROM messages WHERE queue = ? ORDER BY seq",
            (queue.name,),
        ).fetchall()
        with self._lock:
            known = self._known.setdefault(queue.name, set())
            for message_id, body, attributes, sent, count, first, visible_at, delayed_until in rows:
                message = Message(message_id, body)
                message.message_attributes = json.loads(attributes)
                message.sent_timestamp = sent
                message.approximate_receive_count = count
                message.approximate_first_receive_timestamp = first
                message.visible_at = visible_at
                message.delayed_until = delayed_until
                queue.add_message(message)
                known.add(message_id)

    def sent(self, queue: str, message: Any) -> None:
        """Store a message just sent, durably, before SendMessage answers."""
        with self._lock:
            self._known.setdefault(queue, set()).add(str(message.id))
            self._write([(queue, message)], durable=True)

    def changed(self, queue: Any, messages: Iterable[Any] = (), dead_letter_queue: Any = None) -> None:
        """After moto changed `queue` (and redrove to its `dead_letter_queue`): write `messages` (received
        or made visible), drop those it no longer holds (deleted, purged or expired) and store those it
        gained. One transaction: a message redriven to the dead-letter queue changes its queue in one
        UPDATE, so no crash can drop it from both queues."""
        with self._lock:
            gone: dict[str, str] = {}
            writes: list[tuple[str, Any]] = []
            for changed_queue in [queue] if dead_letter_queue is None else [queue, dead_letter_queue]:
                held = {str(m.id): m for m in list(changed_queue._messages)}
                known = self._known.setdefault(changed_queue.name, set())
                dropped = known - held.keys()
                gone.update((message_id, changed_queue.name) for message_id in dropped)
                gained = [m for message_id, m in held.items() if message_id not in known]
                known -= dropped
                known.update(str(m.id) for m in gained)
                writes.extend((changed_queue.name, m) for m in gained)
                if changed_queue is queue:
                    writes.extend((queue.name, m) for m in messages if str(m.id) in known)
            for _, message in writes:
                gone.pop(str(message.id), None)
            if gone or writes:
                self._write(writes, durable=False, gone=gone.items())

    def _write(
        self, messages: list[tuple[str, Any]], *, durable: bool, gone: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Upsert `messages` (queue, message) and delete the `gone` (id, queue) in one transaction."""
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        rows = [
            (str(m.id), queue, m.body, json.dumps(m.message_attributes or {}), m.sent_timestamp,
             m.approximate_receive_count, m.approximate_first_receive_timestamp,
             m.visible_at, m.delayed_until)
            for queue, m in messages
        ]  # fmt: skip
        with self._db:
            self._db.executemany("DELETE FROM messages WHERE id = ? AND queue = ?", gone)
            self._db.executemany(_UPSERT, rows)
