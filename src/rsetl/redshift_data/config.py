"""Limits and fault injection of the local Data API, changeable while the service runs.

Tests and the runtime hold the service's :class:`Limits` and :class:`Faults` and change them
at run time; every request reads them afresh.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from rsetl.clock import Clock
from rsetl.faults import FaultQueue

DAY_SECONDS = 24 * 60 * 60
STATEMENT_WORKERS = 50
"""Statements that run at once by default (the rest wait SUBMITTED): as many as the 50 query slots
Redshift allows across all manual WLM queues ("Quotas and limits in Amazon Redshift",
https://docs.aws.amazon.com/redshift/latest/mgmt/amazon-redshift-limits.html), so short statements
run beside long ones, and half of the embedded PostgreSQL's 100 connections (sessions, catalog
calls and the runtime's own connections take the rest)."""


@dataclass
class Limits:
    """Quotas and sizes; the defaults are AWS's, rates are off unless set."""

    max_active_statements: int = 500
    max_active_sessions: int = 500
    max_sql_bytes: int = 100_000
    """AWS says "100 KB": the stricter reading (100,000 bytes, as the pipeline specs' limit), so a
    text the local Data API accepts is never one AWS refuses."""
    result_page_bytes: int = 100_000_000
    """A GetStatementResult page's size: "The Data API limit is 100 MB" (the earlier text of
    "Troubleshooting issues for Amazon Redshift Data API", still in its translations), read strictly
    as max_result_bytes is (10**6 bytes a MB), so no page is larger than one AWS serves."""
    max_result_bytes: int = 500_000_000
    """"The Data API limit is 500 MB in the result set returned by the database"; a larger result
    fails its statement with `Database response exceeded size limit` ("Troubleshooting issues for
    Amazon Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-troubleshooting.html).
    Counted as the values' text, in bytes, and read strictly (10**6 bytes a MB)."""
    max_result_row_bytes: int = 64_000
    """"64 KB per row in the result set"; a larger row fails with `Packet for query is too large`
    (same page), read strictly as 64,000 bytes."""
    result_memory_bytes: int = 4 * 1024 * 1024
    """Not an AWS quota: a result larger than this (encoded) is kept in a file, not in memory."""
    result_ttl_seconds: float = DAY_SECONDS
    max_statement_seconds: float = DAY_SECONDS
    requests_per_second: dict[str, float] = field(default_factory=dict)
    """Operation name (e.g. `ExecuteStatement`) to its sustained rate; the burst equals the rate."""


@dataclass(frozen=True)
class InjectedError:
    """An error the next calls of one operation answer with instead of running."""

    code: str
    message: str
    status: int


@dataclass(frozen=True)
class StatementFault:
    """How statements whose SQL matches `pattern` misbehave.

    `duration`: they report STARTED until `started + duration` on the clock (the real work runs).
    `status`: they end with this status ("FAILED" with `error`, or "ABORTED") without running.
    `unknown_status`: DescribeStatement reports this value instead of the real status.
    """

    pattern: re.Pattern[str]
    duration: float | None = None
    status: str | None = None
    error: str | None = None
    unknown_status: str | None = None


_SERVER_ERRORS = {"InternalServerException", "DatabaseConnectionException"}


class Faults:
    """Fault injection: errors and delays per operation, misbehaving statements per SQL pattern."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: FaultQueue[InjectedError] = FaultQueue()
        self._delays: dict[str, float] = {}
        self._drops: FaultQueue[bool] = FaultQueue()
        self._statements: list[StatementFault] = []

    def fail_next(
        self, operation: str, code: str, message: str = "Injected fault", count: int = 1, status: int = 0
    ) -> None:
        """Answer the next `count` calls of `operation` with error `code`."""
        status = status or (500 if code in _SERVER_ERRORS else 400)
        self._errors.add(operation, InjectedError(code, message, status), count)

    def drop_next(self, operation: str, count: int = 1, *, after: bool = False) -> None:
        """Hang up on the next `count` calls of `operation` without answering.

        With `after`, the operation runs first and only its response is lost (a submitted
        statement exists although the client never heard of it).
        """
        self._drops.add(operation, after, count)

    def take_drop(self, operation: str) -> bool | None:
        """None when this call of `operation` is answered; else whether to drop after running it."""
        return self._drops.take(operation)

    def delay(self, operation: str, seconds: float) -> None:
        """Hold every call of `operation` for `seconds` on the clock before answering (0 removes it)."""
        with self._lock:
            if seconds > 0:
                self._delays[operation] = seconds
            else:
                self._delays.pop(operation, None)

    def simulate_duration(self, sql_pattern: str, seconds: float) -> None:
        """Statements matching `sql_pattern` (regex, case-insensitive) report STARTED for `seconds`."""
        self._add(StatementFault(_compile(sql_pattern), duration=seconds))

    def force_status(self, sql_pattern: str, status: str, error: str | None = None) -> None:
        """Statements matching `sql_pattern` end `status` ("FAILED" or "ABORTED") without running."""
        if status not in ("FAILED", "ABORTED"):
            raise ValueError(f"forced status must be FAILED or ABORTED, not {status}")
        if status == "FAILED" and not error:
            error = "ERROR: Injected failure"
        self._add(StatementFault(_compile(sql_pattern), status=status, error=error))

    def unknown_status(self, sql_pattern: str, value: str = "UNKNOWN") -> None:
        """DescribeStatement reports `value` as the status of statements matching `sql_pattern`."""
        self._add(StatementFault(_compile(sql_pattern), unknown_status=value))

    def clear(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._errors.clear()
            self._drops.clear()
            self._delays.clear()
            self._statements.clear()

    def take_error(self, operation: str) -> InjectedError | None:
        """The injected error for this call of `operation`, consuming it."""
        return self._errors.take(operation)

    def injects(self, operation: str) -> bool:
        """Whether an error, a dropped connection or a delay is set for `operation`."""
        if self._errors.pending(operation) or self._drops.pending(operation):
            return True
        with self._lock:
            return bool(self._delays.get(operation))

    def delay_for(self, operation: str) -> float:
        with self._lock:
            return self._delays.get(operation, 0.0)

    def for_sql(self, sql: str) -> StatementFault | None:
        """The merged statement faults whose pattern matches `sql`, or None."""
        with self._lock:
            matching = [fault for fault in self._statements if fault.pattern.search(sql)]
        if not matching:
            return None
        merged = StatementFault(matching[0].pattern)
        for fault in matching:
            merged = StatementFault(
                merged.pattern,
                duration=fault.duration if fault.duration is not None else merged.duration,
                status=fault.status or merged.status,
                error=fault.error or merged.error,
                unknown_status=fault.unknown_status or merged.unknown_status,
            )
        return merged

    def _add(self, fault: StatementFault) -> None:
        with self._lock:
            self._statements.append(fault)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


class RateLimiter:
    """A token bucket per operation on the clock, sized from `Limits.requests_per_second`."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, operation: str, rate: float | None) -> bool:
        """Take one token for `operation`; False when its bucket is empty."""
        if not rate or rate <= 0:
            return True
        now = self._clock.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(operation, (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[operation] = (tokens, now)
                return False
            self._buckets[operation] = (tokens - 1, now)
            return True
