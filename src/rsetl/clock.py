"""Clocks shared by the local services: the real one, and a virtual one for tests and benchmarks.

Every local service (Step Functions Wait states and retries, simulated Data API statement
durations, EventBridge schedules) reads time and sleeps only through a :class:`Clock`, so one
:class:`VirtualClock` makes a whole local run deterministic and instant.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


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


class VirtualClock:
    """A clock that jumps: sleeping advances virtual time at once instead of blocking.

    Suited to runs driven from one thread at a time (a state machine execution polling a
    simulated statement): a one-hour Wait state costs microseconds. `wait` is for real work
    (a real query in PostgreSQL): it blocks in real time until the event is set or `timeout`
    passes, and advances virtual time by the real time spent. Simulated durations are
    expressed with :meth:`advance_to` by whoever simulates them.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        started = time.monotonic()
        done = event.wait(max(timeout, 0.0))
        self.advance(time.monotonic() - started)
        return done

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by `seconds` (negative values are ignored)."""
        if seconds > 0:
            with self._lock:
                self._elapsed += seconds

    def advance_to(self, moment: datetime) -> None:
        """Move virtual time forward to `moment` if it lies in the future."""
        with self._lock:
            target = (moment - self._start).total_seconds()
            self._elapsed = max(self._elapsed, target)
