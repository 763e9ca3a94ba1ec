"""Delivering events to targets: a worker pool, retries on the clock, dead-letter queues, faults.

Delivery is at least once, as in AWS: a failed attempt is retried with exponential backoff
until the target's RetryPolicy runs out of attempts or the event gets too old; then the event
goes to the target's dead-letter queue (or is dropped when it has none).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeGuard

from rsetl.clock import Clock
from rsetl.faults import FaultQueue
from rsetl.journal import DeliveryRow, Journal

__all__ = [
    "AsyncOutcome",
    "DeadLetterMessage",
    "DeadLetterQueues",
    "Delivery",
    "DeliveryAuthorizer",
    "DeliveryRecord",
    "Dispatcher",
    "FaultInjector",
    "RetryBackoff",
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


DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE = 86400
RUNTIME_STOPPED = "rsetl.RuntimeStopped"
"""The error of an attempt the local runtime's stop cut short (no AWS error: AWS does not stop)."""


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
class RetryBackoff:
    """Wait before retry n (1-based): initial * multiplier**(n-1), at most `maximum` seconds."""

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 300.0

    def delay(self, retry: int) -> float:
        return float(min(self.initial * self.multiplier ** (retry - 1), self.maximum))


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


@dataclass
class DeliveryRecord:
    """One delivery of one event to one target, as `rsetl local events` shows it."""

    delivery_id: int
    event_id: str
    source: str
    target_id: str
    target_arn: str
    payload: str
    rule_arn: str | None = None
    schedule_arn: str | None = None
    status: str = "PENDING"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None
    dead_letter_arn: str | None = None
    invocation: dict[str, Any] | None = None
    """For a target invoked asynchronously: its status, attempts, errors and destination."""
    redeliveries: int = 0
    """How many times a start-up made this delivery again because the runtime stopped before it ended."""

    @classmethod
    def of(cls, delivery: Delivery, delivery_id: int, **progress: Any) -> DeliveryRecord:
        """The record of `delivery`, with what is known of its progress."""
        return cls(
            delivery_id=delivery_id, event_id=delivery.event_id, source=delivery.source,
            target_id=delivery.target_id, target_arn=delivery.target_arn, payload=delivery.payload,
            rule_arn=delivery.rule_arn, schedule_arn=delivery.schedule_arn, **progress,
        )  # fmt: skip

    def progress(self) -> dict[str, Any]:
        """What changes as the delivery goes on, as the journal keeps it."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "errors": list(self.errors),
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "dead_letter_arn": self.dead_letter_arn,
            "invocation": self.invocation,
            "redeliveries": self.redeliveries,
        }


FINISHED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "DEAD_LETTERED", "TARGET_FAILED"})
"""A delivery in another status (PENDING, INVOKED with its function's outcome unknown, CANCELLED by a
stop) had not ended when the runtime stopped; the next start-up makes it again."""


@dataclass(frozen=True)
class Delivery:
    """What the dispatcher needs to deliver one event to one target."""

    event_id: str
    event_time: datetime
    source: str
    target_id: str
    target_arn: str
    payload: str
    dead_letter_body: str
    rule_arn: str | None = None
    schedule_arn: str | None = None
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE
    dead_letter_arn: str | None = None
    payload_for_attempt: Callable[[int], str] | None = None
    role_arn: str | None = None
    """The target's RoleArn: the role EventBridge (or the scheduler) assumes to call it."""

    def journaled(self) -> dict[str, Any]:
        """Every field but `payload_for_attempt` (a redelivery sends `payload` at each attempt)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "payload_for_attempt"}

    @classmethod
    def from_journal(cls, values: dict[str, Any]) -> Delivery:
        return cls(**{**values, "event_time": datetime.fromisoformat(values["event_time"])})

    @classmethod
    def retry_settings(cls, target: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the RetryPolicy, DeadLetterConfig and RoleArn of an API target dict."""
        policy = target.get("RetryPolicy") or {}
        return {
            "role_arn": target.get("RoleArn"),
            "maximum_retry_attempts": int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
            "maximum_event_age": int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE)),
            "dead_letter_arn": (target.get("DeadLetterConfig") or {}).get("Arn"),
        }


DeliveryAuthorizer = Callable[[Delivery], tuple[str, str] | None]
"""IAM's check of a delivery before it is attempted: None, or (error code, message) such as
`NO_PERMISSIONS` or `FAILED_TO_ASSUME_ROLE`."""


class Dispatcher:
    """Runs deliveries on a worker pool and keeps the record of every delivery.

    With an `authorizer`, a delivery IAM denies is not retried: "for errors that result from
    missing permissions to a target ... no retry attempts will happen", the event goes straight
    to the dead-letter queue (Amazon EventBridge User Guide, "Using dead-letter queues to process
    undelivered events", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
    """

    authorizer: DeliveryAuthorizer | None = None
    dead_letter_authorizer: Callable[[Delivery], str | None] | None = None
    """IAM's check that the rule may send to its dead-letter queue (the queue's policy): None, or
    why not; an event it denies is dropped (metric InvocationsFailedToBeSentToDLQ on AWS)."""

    def __init__(
        self,
        clock: Clock,
        invoker: TargetInvoker,
        *,
        dead_letters: DeadLetterQueues | None = None,
        faults: FaultInjector | None = None,
        backoff: RetryBackoff | None = None,
        workers: int = 8,
    ) -> None:
        self.clock = clock
        self.invoker = invoker
        self.dead_letters = dead_letters or DeadLetterQueues()
        self.faults = faults or FaultInjector()
        self.backoff = backoff or RetryBackoff()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eventbridge-delivery")
        self._records: list[DeliveryRecord] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._closed = threading.Event()
        self._journal: Journal | None = None
        self._unfinished: list[tuple[Delivery, DeliveryRecord]] = []

    def keep_in(self, journal: Journal) -> None:
        """Load the deliveries `journal` holds and write every later one through to it.

        The ones that had not ended wait for :meth:`redeliver_unfinished`.
        """
        rows = journal.deliveries()
        with self._lock:
            for row in rows:
                delivery = Delivery.from_journal(row.delivery)
                progress = dict(row.record)
                for moment in ("created_at", "finished_at"):
                    if progress[moment] is not None:
                        progress[moment] = datetime.fromisoformat(progress[moment])
                record = DeliveryRecord.of(delivery, row.delivery_id, **progress)
                self._records.append(record)
                if record.status not in FINISHED_STATUSES:
                    self._unfinished.append((delivery, record))
            self._journal = journal

    def redeliver_unfinished(self) -> list[DeliveryRecord]:
        """Queue again each journaled delivery that had not ended when the runtime stopped."""
        with self._lock:
            unfinished, self._unfinished = self._unfinished, []
        for delivery, record in unfinished:
            with self._lock:
                record.status = "PENDING"
                record.finished_at = None
                record.redeliveries += 1
                self._in_flight += 1
            self._save(record)
            self._pool.submit(self._run, delivery, record)
        return [record for _, record in unfinished]

    def submit(self, delivery: Delivery) -> None:
        """Queue `delivery` (twice when a duplicate fault is armed for its target).

        With a journal, the delivery is queued once it is written (durably), with the caller's
        transaction if one is open.
        """
        copies = 2 if self.faults.take_duplicate(delivery.target_arn) else 1
        for _ in range(copies):
            with self._lock:
                record = DeliveryRecord.of(delivery, len(self._records) + 1, created_at=self.clock.now())
                self._records.append(record)
                self._in_flight += 1
            if self._journal is None:
                self._pool.submit(self._run, delivery, record)
                continue
            with self._journal.transaction():
                self._journal.add_delivery(
                    DeliveryRow(record.delivery_id, record.event_id, delivery.journaled(), record.progress())
                )
                # Not before the event, its delivery and what else the caller's transaction holds (an
                # execution's end) are on disk.
                self._journal.after_commit(partial(self._pool.submit, self._run, delivery, record))

    def _save(self, record: DeliveryRecord) -> None:
        if self._journal is None:
            return
        with self._lock:
            progress = record.progress()
        self._journal.update_delivery(record.delivery_id, progress)

    def records(self) -> list[DeliveryRecord]:
        with self._lock:
            return list(self._records)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no delivery is queued, running or waiting to retry; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def shutdown(self) -> None:
        """Stop retrying and wait for running attempts to end."""
        self._closed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, delivery: Delivery, record: DeliveryRecord) -> None:
        try:
            self._deliver(delivery, record)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _deliver(self, delivery: Delivery, record: DeliveryRecord) -> None:
        """Attempt until success or the retry policy runs out.

        The budget is the delivery's, not this run's: a delivery made again after a restart goes on
        from the attempts its record holds, and an event already older than its MaximumEventAgeInSeconds
        is not attempted at all ("How EventBridge retries delivering events", "Using dead-letter queues
        to process undelivered events": retries continue until either limit is met).
        """
        self._sleep(self.faults.take_delay(delivery.target_arn))
        denied = self.authorizer(delivery) if self.authorizer is not None else None
        if denied is not None:
            with self._lock:
                record.attempts += 1
                record.errors.append(f"{denied[0]}: {denied[1]}")
            self._save(record)
            self._give_up(delivery, record, denied, None, 0)
            return
        with self._lock:
            retries = record.attempts
        while True:
            condition = self._exhausted(delivery, retries)
            if condition is not None:
                self._give_up(delivery, record, self._last_error(record), condition, max(retries - 1, 0))
                return
            payload = delivery.payload
            if delivery.payload_for_attempt is not None:
                payload = delivery.payload_for_attempt(retries + 1)
            error, outcome = self._attempt(delivery, record, payload)
            if error is None:
                if _is_async_outcome(outcome):
                    self._follow(record, outcome)
                else:
                    self._finish(record, "SUCCEEDED")
                return
            if retries >= delivery.maximum_retry_attempts:
                self._give_up(delivery, record, error, "MaximumRetryAttempts", retries)
                return
            self._sleep(self.backoff.delay(retries + 1))
            if self._closed.is_set():
                self._finish(record, "CANCELLED")
                return
            retries += 1

    def _exhausted(self, delivery: Delivery, attempts_made: int) -> str | None:
        """Why no further attempt may be made, if so: every attempt the policy allows was made (the
        first and MaximumRetryAttempts retries), or the event is older than MaximumEventAgeInSeconds."""
        if attempts_made > delivery.maximum_retry_attempts:
            return "MaximumRetryAttempts"
        age = (self.clock.now() - delivery.event_time).total_seconds()
        return "MaximumEventAgeInSeconds" if age > delivery.maximum_event_age else None

    def _last_error(self, record: DeliveryRecord) -> tuple[str, str]:
        """The error of the record's last failed attempt, for the dead-letter message of a delivery
        given up before an attempt of this run (one the stop cut short has none)."""
        with self._lock:
            last = record.errors[-1] if record.errors else None
        if last is None:
            return RUNTIME_STOPPED, "The local runtime stopped during the delivery's last attempt."
        code, _, message = last.partition(": ")
        return code, message

    def _attempt(
        self, delivery: Delivery, record: DeliveryRecord, payload: str
    ) -> tuple[tuple[str, str] | None, object]:
        with self._lock:
            record.attempts += 1
        self._save(record)
        try:
            fault = self.faults.take_failure(delivery.target_arn)
            if fault is not None:
                raise fault
            outcome = self.invoker.invoke(delivery.target_arn, payload)
        except Exception as exc:  # any failure of the target is a failed attempt, as in AWS
            code = str(getattr(exc, "code", None) or type(exc).__name__)
            with self._lock:
                record.errors.append(f"{code}: {exc}")
            self._save(record)
            return (code, str(exc)), None
        return None, outcome

    def _follow(self, record: DeliveryRecord, outcome: AsyncOutcome) -> None:
        """EventBridge's part succeeded; the record shows INVOKED until the target's own outcome is known."""
        self._finish(record, "INVOKED")

        def done(finished: AsyncOutcome) -> None:
            with self._lock:
                record.invocation = {
                    "status": finished.status,
                    "attempts": finished.attempts,
                    "errors": list(finished.errors),
                    "destination": finished.destination,
                }
            self._finish(record, "SUCCEEDED" if finished.status == "SUCCEEDED" else "TARGET_FAILED")

        outcome.on_done(done)

    def _give_up(
        self,
        delivery: Delivery,
        record: DeliveryRecord,
        error: tuple[str, str],
        condition: str | None,
        retries: int,
    ) -> None:
        if delivery.dead_letter_arn is None:
            self._finish(record, "FAILED")
            return
        refused = self.dead_letter_authorizer(delivery) if self.dead_letter_authorizer is not None else None
        if refused is not None:
            with self._lock:
                record.errors.append(f"DLQ: {refused}")
            self._finish(record, "FAILED")
            return
        attributes = {
            "ERROR_CODE": error[0],
            "ERROR_MESSAGE": error[1],
            "RETRY_ATTEMPTS": str(retries),
            "TARGET_ARN": delivery.target_arn,
        }
        if condition is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        if delivery.rule_arn is not None:
            attributes["RULE_ARN"] = delivery.rule_arn
        if delivery.schedule_arn is not None:
            attributes["SCHEDULE_ARN"] = delivery.schedule_arn
        message = DeadLetterMessage(delivery.dead_letter_body, attributes, self.clock.now())
        self.dead_letters.send(delivery.dead_letter_arn, message)
        with self._lock:
            record.dead_letter_arn = delivery.dead_letter_arn
        self._finish(record, "DEAD_LETTERED")

    def _finish(self, record: DeliveryRecord, status: str) -> None:
        with self._lock:
            record.status = status
            record.finished_at = self.clock.now()
        self._save(record)

    def _sleep(self, seconds: float) -> None:
        # Sleep in slices so that shutdown is not held up by a long backoff on the real clock.
        remaining = seconds
        while remaining > 0 and not self._closed.is_set():
            step = min(remaining, 1.0)
            self.clock.sleep_in_turn(step)
            remaining -= step


def _is_async_outcome(value: object) -> TypeGuard[AsyncOutcome]:
    return callable(getattr(value, "on_done", None)) and hasattr(value, "status")
