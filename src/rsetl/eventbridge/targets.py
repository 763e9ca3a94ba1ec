"""Where deliveries go: each target invoked by ARN, the dead-letter queues, and the faults tests
inject per target ARN."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rsetl.faults import FaultQueue

__all__ = [
    "AsyncOutcome",
    "DeadLetterMessage",
    "DeadLetterQueues",
    "FaultInjector",
    "InjectedFault",
    "TargetInvoker",
    "TargetNotFoundError",
]

TargetHandler = Callable[[str], object]
"""Invokes one target with the JSON text it receives; raising means the delivery failed.

A target that runs later (a Lambda function, invoked asynchronously) returns an
:class:`AsyncOutcome`: the delivery succeeded, and the record follows what became of the event.
"""


class AsyncOutcome(Protocol):
    """What an asynchronously invoked target became of a delivered event (a Lambda async invocation)."""

    status: str
    attempts: int
    errors: list[str]
    destination: str | None

    def on_done(self, listener: Callable[[Any], None]) -> None: ...


class TargetNotFoundError(Exception):
    """No handler is registered for the target's ARN."""

    code = "ResourceNotFoundException"


class TargetInvoker:
    """Maps target ARNs to handlers: exact ARNs first, then resolvers (for families of ARNs)."""

    def __init__(self) -> None:
        self._handlers: dict[str, TargetHandler] = {}
        self._resolvers: list[Callable[[str], TargetHandler | None]] = []
        self._lock = threading.Lock()

    def register(self, arn: str, handler: TargetHandler) -> None:
        """Send deliveries for `arn` to `handler`."""
        with self._lock:
            self._handlers[arn] = handler

    def add_resolver(self, resolver: Callable[[str], TargetHandler | None]) -> None:
        """Consult `resolver` for ARNs without a registered handler (e.g. every state machine ARN)."""
        with self._lock:
            self._resolvers.append(resolver)

    def invoke(self, arn: str, payload: str) -> object:
        """Call the target and return what it returns; raises whatever it raises, or TargetNotFoundError."""
        with self._lock:
            handler = self._handlers.get(arn)
            resolvers = list(self._resolvers)
        for resolver in resolvers:
            if handler is not None:
                break
            handler = resolver(arn)
        if handler is None:
            raise TargetNotFoundError(f"No local target is wired for {arn}.")
        return handler(payload)


@dataclass(frozen=True)
class DeadLetterMessage:
    """A message in a local dead-letter queue: the original event and AWS's message attributes."""

    body: str
    attributes: dict[str, str]
    sent_at: datetime

    def json(self) -> Any:
        return json.loads(self.body)


class DeadLetterQueues:
    """The record of dead-lettered events, keyed by the queue ARN of DeadLetterConfig.

    With `forward_to`, each message is also sent to the real (local) queue of that ARN.
    """

    def __init__(self) -> None:
        self._queues: dict[str, list[DeadLetterMessage]] = {}
        self._lock = threading.Lock()
        self._forward: Callable[[str, DeadLetterMessage], object] | None = None

    def forward_to(self, sender: Callable[[str, DeadLetterMessage], object]) -> None:
        """Also hand every message to `sender` (queue ARN, message), e.g. the local SQS."""
        self._forward = sender

    def send(self, arn: str, message: DeadLetterMessage) -> None:
        with self._lock:
            self._queues.setdefault(arn, []).append(message)
        if self._forward is not None:
            self._forward(arn, message)

    def messages(self, arn: str) -> list[DeadLetterMessage]:
        """The messages sent to the queue `arn`, oldest first."""
        with self._lock:
            return list(self._queues.get(arn, ()))

    def queue_arns(self) -> list[str]:
        with self._lock:
            return sorted(self._queues)

    def purge(self, arn: str) -> None:
        with self._lock:
            self._queues.pop(arn, None)


class InjectedFault(Exception):
    """The failure a fault hook makes a target raise."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class FaultInjector:
    """Test hooks, keyed by target ARN: fail the next N attempts, duplicate or delay deliveries."""

    def __init__(self) -> None:
        self._failures: FaultQueue[str] = FaultQueue()
        self._duplicates: FaultQueue[bool] = FaultQueue()
        self._delays: FaultQueue[float] = FaultQueue()

    def fail(self, target_arn: str, times: int = 1, error_code: str = "InjectedFault") -> None:
        """Make the next `times` attempts on `target_arn` fail with `error_code`."""
        self._failures.add(target_arn, error_code, times)

    def duplicate(self, target_arn: str, times: int = 1) -> None:
        """Deliver each of the next `times` deliveries to `target_arn` twice."""
        self._duplicates.add(target_arn, True, times)

    def delay(self, target_arn: str, seconds: float, times: int = 1) -> None:
        """Hold each of the next `times` deliveries to `target_arn` for `seconds` on the clock."""
        self._delays.add(target_arn, seconds, times)

    def clear(self) -> None:
        for queue in (self._failures, self._duplicates, self._delays):
            queue.clear()

    def take_duplicate(self, target_arn: str) -> bool:
        return self._duplicates.take(target_arn) is not None

    def take_delay(self, target_arn: str) -> float:
        return self._delays.take(target_arn) or 0.0

    def take_failure(self, target_arn: str) -> InjectedFault | None:
        code = self._failures.take(target_arn)
        return None if code is None else InjectedFault(code, f"Injected failure of {target_arn}.")
