"""Task tokens of `.waitForTaskToken` tasks and their SendTask* outcomes."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from rsetl.stepfunctions.exceptions import StatesError, TaskDoesNotExist


@dataclass
class TaskWaiter:
    """One task waiting for its token; `changed` fires on success, failure or heartbeat."""

    token: str
    execution_arn: str
    changed: threading.Event = field(default_factory=threading.Event)
    output: Any = None
    error: StatesError | None = None
    done: bool = False
    heartbeats: int = 0


class TaskTokens:
    """Issues task tokens and routes SendTaskSuccess / Failure / Heartbeat to their waiter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, TaskWaiter] = {}

    def issue(self, execution_arn: str) -> TaskWaiter:
        """A new token, registered for `execution_arn`."""
        waiter = TaskWaiter(token=secrets.token_urlsafe(96), execution_arn=execution_arn)
        with self._lock:
            self._waiters[waiter.token] = waiter
        return waiter

    def release(self, token: str) -> None:
        """Forget a token once its task has ended."""
        with self._lock:
            self._waiters.pop(token, None)

    def _get(self, token: str) -> TaskWaiter:
        with self._lock:
            waiter = self._waiters.get(token)
        if waiter is None or waiter.done:
            raise TaskDoesNotExist("Task Token does not exist")
        return waiter

    def succeed(self, token: str, output: Any) -> None:
        waiter = self._get(token)
        waiter.output, waiter.done = output, True
        waiter.changed.set()

    def fail(self, token: str, error: str, cause: str) -> None:
        waiter = self._get(token)
        waiter.error, waiter.done = StatesError(error, cause), True
        waiter.changed.set()

    def heartbeat(self, token: str) -> None:
        waiter = self._get(token)
        waiter.heartbeats += 1
        waiter.changed.set()

    def wake_execution(self, execution_arn: str) -> None:
        """Wake every waiter of an execution (it is being stopped)."""
        with self._lock:
            waiters = [w for w in self._waiters.values() if w.execution_arn == execution_arn]
        for waiter in waiters:
            waiter.changed.set()
