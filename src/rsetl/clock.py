"""Clocks shared by the local services: the real one, and a virtual one for tests and benchmarks.

Every local service (Step Functions Wait states and retries, simulated Data API statement
durations, EventBridge schedules) reads time and sleeps only through a :class:`Clock`, so one
:class:`VirtualClock` makes a whole local run deterministic and instant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Protocol

TURN_WAIT_LIMIT_SECONDS = 60.0
"""Longest a VirtualClock sleep waits in real time for its turn: a participant that looks busy may in
fact wait on the sleeper, and a sleep never takes longer than it would on the real clock anyway."""


class Clock(Protocol):
    """What the local services need from time."""

    def now(self) -> datetime:
        """Current wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for measuring durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait for `event` at most `timeout` seconds; True when it was set."""
        ...

    def sleep_in_turn(self, seconds: float) -> None:
        """Let `seconds` pass for a participant (a state machine execution) or a poller."""
        ...

    def participant(self) -> AbstractContextManager[None]:
        """The calling thread runs a participant (an execution) while the block runs."""
        ...

    def idle(self) -> AbstractContextManager[None]:
        """A participant waits for another one (its child execution, a task token) in the block."""
        ...


class RealClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        return event.wait(max(timeout, 0.0))

    def sleep_in_turn(self, seconds: float) -> None:
        self.sleep(seconds)

    def participant(self) -> AbstractContextManager[None]:
        return nullcontext()

    def idle(self) -> AbstractContextManager[None]:
        return nullcontext()


class VirtualClock:
    """A clock that jumps: sleeping advances virtual time at once instead of blocking.

    Suited to runs driven from one thread at a time (a state machine execution polling a
    simulated statement): a one-hour Wait state costs microseconds. `wait` is for real work
    (a real query in PostgreSQL): it blocks in real time until the event is set or `timeout`
    passes, and advances virtual time by the real time spent. Simulated durations are
    expressed with :meth:`advance_to` by whoever simulates them.

    Executions share the clock, so their sleeps take turns as in a discrete-event simulation
    (:meth:`sleep_in_turn`): time jumps to the earliest sleeper's end only once no participant
    is running. Without that, an execution whose Wait state loops on something real (polling
    ListExecutions until another execution's REFRESH ends) would turn at full speed, and one
    execution's Wait would move time ahead of the work other executions are still doing.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self._turns = threading.Condition(self._lock)
        self._running = 0
        self._sleeping_until: list[float] = []
        self._thread = threading.local()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def sleep_in_turn(self, seconds: float) -> None:
        """Sleep until no participant runs and no other sleeper ends earlier, then jump to the end.

        Waits at most :data:`TURN_WAIT_LIMIT_SECONDS` (or `seconds`, if shorter) in real time.
        """
        if seconds <= 0:
            return
        participant = getattr(self._thread, "participant", False)
        with self._turns:
            end = self._elapsed + seconds
            real_deadline = time.monotonic() + min(seconds, TURN_WAIT_LIMIT_SECONDS)
            if participant:
                self._running -= 1
            self._sleeping_until.append(end)
            self._turns.notify_all()
            try:
                while self._elapsed < end and not (self._running == 0 and end <= min(self._sleeping_until)):
                    remaining = real_deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._turns.wait(remaining)
                self._elapsed = max(self._elapsed, end)
            finally:
                self._sleeping_until.remove(end)
                if participant:
                    self._running += 1
                self._turns.notify_all()

    @contextmanager
    def participant(self) -> Iterator[None]:
        outer = getattr(self._thread, "participant", False)
        self._thread.participant = True
        with self._turns:
            self._running += 1
        try:
            yield
        finally:
            self._thread.participant = outer
            with self._turns:
                self._running -= 1
                self._turns.notify_all()

    @contextmanager
    def idle(self) -> Iterator[None]:
        with self._turns:
            self._running -= 1
            self._turns.notify_all()
        try:
            yield
        finally:
            with self._turns:
                self._running += 1

    def wait(self, event: threading.Event, timeout: float) -> bool:
        started = time.monotonic()
        done = event.wait(max(timeout, 0.0))
        self.advance(time.monotonic() - started)
        return done

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by `seconds` (negative values are ignored)."""
        if seconds > 0:
            with self._turns:
                self._elapsed += seconds
                self._turns.notify_all()

    def advance_to(self, moment: datetime) -> None:
        """Move virtual time forward to `moment` if it lies in the future."""
        with self._turns:
            target = (moment - self._start).total_seconds()
            self._elapsed = max(self._elapsed, target)
            self._turns.notify_all()
