"""How long to wait between statement checks.

A check long-polls DescribeStatement for up to ``check_window_seconds``; if the statement
is still running the state machine then waits ``wait_seconds`` before the next check. The
wait grows with the statement's age (``wait_ratio`` of it, between ``min_wait_seconds``
and ``max_wait_seconds``), so the end of a statement is noticed within
max(min_wait, wait_ratio x its duration) while a 24-hour statement needs only a few
hundred checks, far below the 25,000-event history limit of a Standard workflow.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass

RUNNING_STATUSES = ("SUBMITTED", "PICKED", "STARTED")
FINISHED, FAILED, ABORTED = "FINISHED", "FAILED", "ABORTED"


@dataclass(frozen=True)
class PollPolicy:
    """Long-poll and backoff settings of the statement poll loop."""

    long_poll_seconds: int = 30
    check_window_seconds: int = 120
    min_wait_seconds: int = 2
    max_wait_seconds: int = 300
    wait_ratio: float = 0.05
    resubmit_attempts: int = 8
    """Submissions of a step whose statement fails with a serialization failure (error 1023)."""
    max_resubmit_wait_seconds: int = 60

    def __post_init__(self) -> None:
        if not 1 <= self.long_poll_seconds <= 30:
            raise ValueError(
                f"long_poll_seconds must be 1-30 (Data API WaitTimeSeconds), not {self.long_poll_seconds}"
            )
        if self.check_window_seconds < self.long_poll_seconds:
            raise ValueError("check_window_seconds must be at least long_poll_seconds")
        if not 1 <= self.min_wait_seconds <= self.max_wait_seconds:
            raise ValueError("need 1 <= min_wait_seconds <= max_wait_seconds")
        if not 0 < self.wait_ratio <= 1:
            raise ValueError("wait_ratio must be in (0, 1]")
        if self.resubmit_attempts < 1 or self.max_resubmit_wait_seconds < 1:
            raise ValueError("resubmit_attempts and max_resubmit_wait_seconds must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PollPolicy:
        """Read ``POLL_*`` variables, falling back to the defaults."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            long_poll_seconds=int(env.get("POLL_LONG_POLL_SECONDS", defaults.long_poll_seconds)),
            check_window_seconds=int(env.get("POLL_CHECK_WINDOW_SECONDS", defaults.check_window_seconds)),
            min_wait_seconds=int(env.get("POLL_MIN_WAIT_SECONDS", defaults.min_wait_seconds)),
            max_wait_seconds=int(env.get("POLL_MAX_WAIT_SECONDS", defaults.max_wait_seconds)),
            wait_ratio=float(env.get("POLL_WAIT_RATIO", defaults.wait_ratio)),
            resubmit_attempts=int(env.get("POLL_RESUBMIT_ATTEMPTS", defaults.resubmit_attempts)),
            max_resubmit_wait_seconds=int(
                env.get("POLL_MAX_RESUBMIT_WAIT_SECONDS", defaults.max_resubmit_wait_seconds)
            ),
        )

    def resubmit_wait_seconds(self, attempt: int) -> int:
        """Seconds to wait before submission ``attempt + 1``: exponential backoff with full jitter,
        so transactions that conflicted do not meet again at once."""
        cap = min(self.max_resubmit_wait_seconds, 2**attempt)
        return random.randint(1, cap)

    def wait_seconds(self, elapsed: float, remaining: float) -> int:
        """Seconds to wait before the next check of a statement ``elapsed`` seconds old.

        Never past the step's time budget (``remaining``), never below one second.
        """
        wait = min(self.max_wait_seconds, max(self.min_wait_seconds, math.floor(elapsed * self.wait_ratio)))
        return max(1, min(wait, math.ceil(remaining)))

    def long_poll_plan(self, remaining: float) -> list[int]:
        """``WaitTimeSeconds`` of each DescribeStatement call of one check, within the time budget."""
        budget = min(self.check_window_seconds, math.floor(remaining))
        plan = []
        while budget > 0:
            plan.append(min(self.long_poll_seconds, budget))
            budget -= plan[-1]
        return plan
