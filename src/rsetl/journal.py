"""The runtime's journal: executions, their histories, events, deliveries and schedule fires in SQLite.

One database file in the state directory (`journal.sqlite3`), in WAL mode. A write that precedes an
acknowledgement (an accepted event and its deliveries, a started execution, a schedule's fire) or that
something acts on (an execution's end, before its status change event is delivered) is a transaction
committed with `synchronous=FULL`, so it survives a power cut; a delivery queued inside one starts once
it has committed (:meth:`Journal.after_commit`). Progress (history events, attempts, statuses) goes to a
background writer that writes it in groups, every `GROUP_COMMIT_SECONDS` and before each durable
transaction (so a history is on disk with the end that closes it), with `synchronous=NORMAL`: a
`kill -9` loses at most the last group, a power cut the last few; what is lost is work the next
start-up finds unfinished and does again. The caller of a progress write only queues it.

The services keep their live objects in memory and write them through here; at start-up they load
what the journal holds. A service given no journal keeps everything in memory only.

One module over 400 lines: the schema, the row types and the one class that reads and writes them
are a single format, each part read against the others: split, a change to one table would span three
modules.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

JOURNAL_FILE = "journal.sqlite3"
GROUP_COMMIT_SECONDS = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start_date TEXT NOT NULL,
    stop_date TEXT,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    definition TEXT
);
CREATE TABLE IF NOT EXISTS history_events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    bus TEXT NOT NULL,
    received_at TEXT NOT NULL,
    event TEXT NOT NULL,
    matched_rules TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    delivery TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_fires (
    schedule TEXT PRIMARY KEY,
    expression TEXT NOT NULL,
    anchor TEXT NOT NULL,
    last_fire TEXT
);
"""


@dataclass(frozen=True)
class ExecutionRow:
    """One execution as the journal holds it (JSON texts for input and output)."""

    arn: str
    name: str
    state_machine_arn: str
    role_arn: str
    status: str
    input: str
    output: str | None
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime | None
    redrive_count: int = 0
    """RedriveExecution is not modelled locally: 0 for every execution the engine writes."""
    definition: str | None = None
    """The definition the execution started with (JSON text); a later save without it keeps it."""


@dataclass(frozen=True)
class EventRow:
    """An event accepted on a bus and the rules it matched."""

    id: str
    bus: str
    received_at: datetime
    event: dict[str, Any]
    matched_rules: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery: what it needs to be made (`delivery`) and what became of it (`record`)."""

    delivery_id: int
    event_id: str
    delivery: dict[str, Any]
    record: dict[str, Any]


@dataclass(frozen=True)
class ScheduleFire:
    """A schedule's anchor (when it was first seen, for rate expressions) and the instant it last fired."""

    expression: str
    anchor: datetime
    last_fire: datetime | None


class Journal:
    """The SQLite journal of one state directory; safe to use from many threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, detect_types=0)
        self._lock = threading.RLock()
        """Held by whoever uses the database: a transaction for its whole length, the writer per group."""
        self._depth = 0
        self._owner: int | None = None
        """The thread whose transaction is open."""
        self._closed = False
        self._progress = True
        self._queue: list[tuple[str, tuple[Any, ...]]] = []
        self._queue_lock = threading.Lock()
        self._after_commit: list[Callable[[], object]] = []
        self._stop = threading.Event()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            _add_missing_columns(self._db)
        threading.Thread(target=self._write_behind, name="journal-writer", daemon=True).start()

    def _write_behind(self) -> None:
        """The background writer: every GROUP_COMMIT_SECONDS, the progress queued since, in one commit."""
        while not self._stop.wait(GROUP_COMMIT_SECONDS):
            with self._lock:
                self._drain()
                self._commit_group()

    def _drain(self) -> None:
        """Write the queued progress, in the order it was queued (the caller holds the lock)."""
        with self._queue_lock:
            queued, self._queue = self._queue, []
        if not queued or self._closed:
            return
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        for sql, group in itertools.groupby(queued, key=itemgetter(0)):
            self._db.executemany(sql, [_encoded(parameters) for _, parameters in group])

    def _commit_group(self) -> None:
        """Commit the progress written since the last commit (the caller holds the lock)."""
        if not self._closed and self._depth == 0 and self._db.in_transaction:
            self._db.execute("COMMIT")

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Journal:
        return cls(state_dir / JOURNAL_FILE)

    def acknowledgements_only(self) -> None:
        """From now on write only transactions (what precedes an acknowledgement), no progress."""
        with self._lock:
            self._drain()
            self._commit_group()
            with self._queue_lock:
                self._progress = False

    def close(self) -> None:
        """Close the database. Writes after this are not made: they come from work the stopping
        runtime cut short, which the next start-up finds unfinished, as after a crash."""
        self._stop.set()
        with self._lock:
            self._drain()
            self._commit_group()
            with self._queue_lock:
                self._closed = True
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together, with `synchronous=FULL`, when the outermost one ends.

        The progress queued before is written first, so it is on disk with the transaction (an
        execution's history before its end). Other threads' writes wait until then, so nothing reads
        a half-written acceptance; what :meth:`after_commit` was given runs once it has ended.
        """
        with self._lock:
            if self._closed:
                yield
                return
            if self._depth == 0:
                self._drain()
                self._commit_group()
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._end("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._end("COMMIT")

    def _end(self, how: str) -> None:
        """End the outermost transaction, then run what waited for it (as a transaction cut short ran
        them before: work queued inside it, such as a delivery, is not lost with it)."""
        self._owner = None
        actions, self._after_commit = self._after_commit, []
        try:
            self._db.execute(how)
            self._db.execute("PRAGMA synchronous=NORMAL")
        finally:
            for action in actions:
                action()

    def after_commit(self, action: Callable[[], object]) -> None:
        """Run `action` once this thread's open transaction has committed; at once outside one.

        A delivery is started so: it cannot reach its target before its event is on disk.
        """
        if self._owner == threading.get_ident():
            self._after_commit.append(action)
        else:
            action()

    def _write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        """Inside this thread's transaction, write now; otherwise queue it for the background writer,
        which makes it durable shortly (dict parameters are written as JSON, by the writer)."""
        if self._owner == threading.get_ident():
            self._db.execute(sql, _encoded(parameters))
            return
        with self._queue_lock:
            if not self._closed and self._progress:
                self._queue.append((sql, parameters))

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read, with what is queued written first."""
        with self._lock:
            self._drain()
            return self._db.execute(sql, parameters).fetchall()

    # -- Step Functions --------------------------------------------------------------------

    def save_execution(self, row: ExecutionRow) -> None:
        """Insert or update an execution (its status, dates, output, error); the definition it
        started with is written once, by the first save that carries it."""
        self._write(
            "INSERT INTO executions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (arn) DO UPDATE SET"
            " status = excluded.status, output = excluded.output, error = excluded.error,"
            " cause = excluded.cause, stop_date = excluded.stop_date,"
            " definition = coalesce(executions.definition, excluded.definition)",
            (
                row.arn, row.name, row.state_machine_arn, row.role_arn, row.status, row.input, row.output,
                row.error, row.cause, _time(row.start_date), _time(row.stop_date), row.redrive_count,
                row.definition,
            ),
        )  # fmt: skip

    def add_history_event(self, execution_arn: str, event: dict[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO history_events VALUES (?,?,?)",
            (execution_arn, int(event["id"]), event),
        )

    def executions(self) -> list[ExecutionRow]:
        """Every execution, oldest start first."""
        rows = self._read(
            "SELECT arn, name, state_machine_arn, role_arn, status, input, output, error, cause,"
            " start_date, stop_date, redrive_count, definition FROM executions ORDER BY start_date, rowid"
        )
        return [
            ExecutionRow(
                arn, name, machine, role, status, input_text, output, error, cause,
                _parse_time(start), _parse_time_or_none(stop), redrives, definition,
            )
            for (
                arn, name, machine, role, status, input_text, output, error, cause, start, stop, redrives,
                definition,
            ) in rows
        ]  # fmt: skip

    def histories(self) -> dict[str, list[dict[str, Any]]]:
        """Every execution's history events in id order, by execution ARN."""
        histories: dict[str, list[dict[str, Any]]] = {}
        for arn, text in self._read(
            "SELECT execution_arn, event FROM history_events ORDER BY execution_arn, id"
        ):
            event = json.loads(text)
            event["timestamp"] = _parse_time(event["timestamp"])
            histories.setdefault(arn, []).append(event)
        return histories

    # -- EventBridge -----------------------------------------------------------------------

    def add_event(self, row: EventRow) -> None:
        self._write(
            "INSERT OR IGNORE INTO events (id, bus, received_at, event, matched_rules) VALUES (?,?,?,?,?)",
            (row.id, row.bus, _time(row.received_at), _dumps(row.event), json.dumps(row.matched_rules)),
        )

    def events(self) -> list[EventRow]:
        """Every accepted event, in the order it was accepted."""
        return [
            EventRow(event_id, bus, _parse_time(received), json.loads(event), tuple(json.loads(rules)))
            for event_id, bus, received, event, rules in self._read(
                "SELECT id, bus, received_at, event, matched_rules FROM events ORDER BY seq"
            )
        ]

    def add_delivery(self, row: DeliveryRow) -> None:
        self._write(
            "INSERT OR REPLACE INTO deliveries VALUES (?,?,?,?)",
            (row.delivery_id, row.event_id, _dumps(row.delivery), _dumps(row.record)),
        )

    def update_delivery(self, delivery_id: int, record: dict[str, Any]) -> None:
        self._write("UPDATE deliveries SET record = ? WHERE delivery_id = ?", (_dumps(record), delivery_id))

    def deliveries(self) -> list[DeliveryRow]:
        """Every delivery, in the order it was queued."""
        return [
            DeliveryRow(delivery_id, event_id, json.loads(delivery), json.loads(record))
            for delivery_id, event_id, delivery, record in self._read(
                "SELECT delivery_id, event_id, delivery, record FROM deliveries ORDER BY delivery_id"
            )
        ]

    # -- schedules -------------------------------------------------------------------------

    def schedule_fire(self, schedule: str) -> ScheduleFire | None:
        rows = self._read(
            "SELECT expression, anchor, last_fire FROM schedule_fires WHERE schedule = ?", (schedule,)
        )
        if not rows:
            return None
        expression, anchor, last_fire = rows[0]
        return ScheduleFire(expression, _parse_time(anchor), _parse_time_or_none(last_fire))

    def save_schedule_fire(self, schedule: str, fire: ScheduleFire) -> None:
        self._write(
            "INSERT OR REPLACE INTO schedule_fires VALUES (?,?,?,?)",
            (schedule, fire.expression, _time(fire.anchor), _time(fire.last_fire)),
        )

    def forget_schedule_fire(self, schedule: str) -> None:
        """The schedule is gone (deleted, disabled, changed or re-created): a later one of its name
        starts afresh."""
        self._write("DELETE FROM schedule_fires WHERE schedule = ?", (schedule,))

    def scheduled(self) -> list[str]:
        """The ARN of every schedule with a journaled anchor."""
        return [arn for (arn,) in self._read("SELECT schedule FROM schedule_fires ORDER BY schedule")]


_ADDED_COLUMNS = {"executions": {"definition": "TEXT"}}
"""Columns added to a table after its first release: a journal written before gets them at open."""


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _encoded(parameters: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_dumps(value) if isinstance(value, dict) else value for value in parameters)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))
"""One encoder for every write: `json.dumps` with options builds a new one per call."""


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _parse_time_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
