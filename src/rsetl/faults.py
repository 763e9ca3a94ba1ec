"""The one fault-injection mechanism of the local services: faults queued per key (an operation, a
function, a target ARN), each consumed by the one call it makes misbehave."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

F = TypeVar("F")


class FaultQueue(Generic[F]):
    """Faults of one kind queued per key, first in first out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[F]] = {}

    def add(self, key: str, fault: F, count: int = 1) -> None:
        """Make the next `count` calls for `key` misbehave as `fault`."""
        with self._lock:
            self._pending.setdefault(key, []).extend([fault] * count)

    def take(self, key: str) -> F | None:
        """The fault for this call for `key`, consuming it; None when none is queued."""
        with self._lock:
            pending = self._pending.get(key)
            return pending.pop(0) if pending else None

    def pending(self, key: str) -> int:
        """How many faults are still queued for `key`."""
        with self._lock:
            return len(self._pending.get(key, []))

    def clear(self) -> None:
        """Remove every queued fault."""
        with self._lock:
            self._pending.clear()
