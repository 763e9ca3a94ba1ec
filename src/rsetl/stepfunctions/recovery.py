"""Retry and Catch: how a Task, Parallel or Map state recovers from the errors of its attempts.

"Handling errors in Step Functions workflows"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): the first
retrier whose ErrorEquals matches decides; once its attempts are spent the first matching catcher
sends its error output to its Next state; otherwise the state fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rsetl.stepfunctions import errors
from rsetl.stepfunctions.entry import StateEntry
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.processing import Processing


class HeartbeatTimedOut(StatesError):
    """A task missed its heartbeat. AWS reports States.Timeout with no cause; Retry and Catch match
    it as States.HeartbeatTimeout too ("Handling errors in Step Functions workflows")."""

    def __init__(self) -> None:
        super().__init__(errors.TIMEOUT)


@dataclass(frozen=True)
class Retrier:
    """One Retry entry."""

    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    full_jitter: bool = False

    def delay(self, attempt: int) -> float:
        """IntervalSeconds x BackoffRate^attempt, capped by MaxDelaySeconds, FULL jitter if asked."""
        delay = self.interval_seconds * self.backoff_rate**attempt
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        if self.full_jitter:
            delay = random.uniform(0, delay)
        return delay


@dataclass(frozen=True)
class Catcher:
    """One Catch entry: the errors it takes, where it goes, and how it shapes the error output
    (ResultPath and Assign in JSONPath, Output and Assign in JSONata)."""

    error_equals: tuple[str, ...]
    next: str
    processing: Processing

    def output(self, entry: StateEntry, failure: StatesError) -> Any:
        error_output = failure.to_output()
        return self.processing.output(entry, error_output, errorOutput=error_output)


@dataclass(frozen=True)
class Recovery:
    """A state's Retry and Catch lists."""

    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()

    def run(
        self, entry: StateEntry, attempt: Callable[[], Any], following: str | None
    ) -> tuple[Any, str | None]:
        """Make attempts until one succeeds, a catcher takes the failure, or the state fails."""
        attempts = [0] * len(self.retriers)
        while True:
            try:
                return attempt(), following
            except StatesError as exc:
                failure = entry.record_failure(exc)
            heartbeat = isinstance(failure, HeartbeatTimedOut)
            index = next(
                (
                    i
                    for i, retrier in enumerate(self.retriers)
                    if errors.error_matches(failure.error, retrier.error_equals, heartbeat=heartbeat)
                ),
                None,
            )
            if index is not None and attempts[index] < self.retriers[index].max_attempts:
                entry.run.sleep(self.retriers[index].delay(attempts[index]))
                attempts[index] += 1
                entry.retry_count += 1
                entry.assigned = {}
                continue
            for catcher in self.catchers:
                if errors.error_matches(failure.error, catcher.error_equals, heartbeat=heartbeat):
                    return catcher.output(entry, failure), catcher.next
            raise failure
