"""Fault injection for the local Lambda runtime: the next invocations of a function misbehave."""

from __future__ import annotations

import threading
from enum import StrEnum


class LambdaFault(StrEnum):
    """How one invocation misbehaves.

    `EXCEPTION`: the handler raises before doing anything (an Unhandled function error).
    `TIMEOUT`: the handler runs to the end but its result is lost (`Sandbox.Timedout`), the worst
    case of a timeout: the side effects happened and the caller never hears of them.
    `SERVICE_ERROR`: the Invoke call itself fails (`Lambda.ServiceException`); the handler does not run.
    """

    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    SERVICE_ERROR = "service_error"


class LambdaFaults:
    """Faults queued per function name, each consumed by one invocation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[LambdaFault]] = {}

    def fail_next(self, function_name: str, fault: LambdaFault | str, count: int = 1) -> None:
        """Make the next `count` invocations of `function_name` misbehave as `fault`."""
        kind = LambdaFault(fault)
        with self._lock:
            self._pending.setdefault(function_name, []).extend([kind] * count)

    def take(self, function_name: str) -> LambdaFault | None:
        """The fault for this invocation of `function_name`, consuming it."""
        with self._lock:
            pending = self._pending.get(function_name)
            return pending.pop(0) if pending else None

    def pending(self, function_name: str) -> int:
        """How many faults are still queued for `function_name`."""
        with self._lock:
            return len(self._pending.get(function_name, []))

    def clear(self) -> None:
        """Remove every queued fault."""
        with self._lock:
            self._pending.clear()
