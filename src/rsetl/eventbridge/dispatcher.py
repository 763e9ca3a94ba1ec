"""The dispatcher: deliveries on a worker pool, retries on the clock, dead-lettering, journaled.

Delivery is at least once, as in AWS: a failed attempt is retried with exponential backoff
until the target's RetryPolicy runs out of attempts or the event gets too old; then the event
goes to the target's dead-letter queue (or is dropped when it has none).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TypeGuard

from rsetl.clock import Clock
from rsetl.errors import RUNTIME_STOPPED
from rsetl.eventbridge.delivery import (
    FINISHED_STATUSES,
    Delivery,
    DeliveryAuthorizer,
    DeliveryRecord,
    RetryBackoff,
)
from rsetl.eventbridge.targets import (
    AsyncOutcome,
    DeadLetterMessage,
    DeadLetterQueues,
    FaultInjector,
    TargetInvoker,
)
from rsetl.journal import DeliveryRow, Journal

__all__ = ["Dispatcher"]


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
