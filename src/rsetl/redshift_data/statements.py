"""Statements and their sub-statements: state, timing, results, and what DescribeStatement shows."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from rsetl.clock import Clock
from rsetl.redshift_data.config import StatementFault
from rsetl.redshift_data.results import ResultSet
from rsetl.redshift_data.runner import Script
from rsetl.redshift_data.users import DatabaseLogin

DEFAULT_DATABASE = "dev"
ABORTED_ERROR = "Query cancelled on user's request"
"""The error of a statement cancelled by CancelStatement (or by the service)."""


class Status(StrEnum):
    """Statement statuses of the Data API."""

    SUBMITTED = "SUBMITTED"
    PICKED = "PICKED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def final(self) -> bool:
        return self in (Status.FINISHED, Status.FAILED, Status.ABORTED)


@dataclass(eq=False)
class SubStatement:
    """One SQL statement of a request; a plain ExecuteStatement has exactly one."""

    id: str
    sql: str
    created_at: datetime
    updated_at: datetime
    script: Script
    """`sql` as the SQL layer parsed it at submit."""
    status: Status = Status.SUBMITTED
    error: str | None = None
    duration_ns: int = -1
    result_rows: int = -1
    result_size: int = -1
    has_result_set: bool = False
    redshift_query_id: int = 0
    result: ResultSet | None = None

    def drop_result(self) -> None:
        """Forget the result (its statement was aborted, or it expired), deleting its file."""
        if self.result is not None:
            self.result.discard()
        self.result = None
        self.has_result_set = False

    def describe(self, shown: Status | str) -> dict[str, Any]:
        final = shown in (Status.FINISHED, Status.FAILED, Status.ABORTED)
        return {
            "Id": self.id,
            "QueryString": self.sql,
            "Status": str(shown),
            "Error": self.error if final else None,
            "Duration": self.duration_ns if final else -1,
            "ResultRows": self.result_rows if final else -1,
            "ResultSize": self.result_size if final else -1,
            "HasResultSet": self.has_result_set,
            "RedshiftQueryId": self.redshift_query_id,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
        }


@dataclass(eq=False)
class Statement:
    """A submitted ExecuteStatement or BatchExecuteStatement and everything reported about it."""

    id: str
    seq: int
    principal: str
    request: dict[str, Any]
    subs: list[SubStatement]
    is_batch: bool
    created_at: datetime
    fault: StatementFault | None
    login: DatabaseLogin
    """The database user the statement runs as."""
    session_id: str | None = None
    principal_arn: str = ""
    resource_arn: str = ""
    owner: str = ""
    """Whose statement it is for visibility: the IAM role for any of its sessions, else `principal`."""
    status: Status = Status.SUBMITTED
    updated_at: datetime | None = None
    error: str | None = None
    redshift_pid: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    event_sent: bool = False
    connection: psycopg.Connection[Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    work_done: threading.Event = field(default_factory=threading.Event)
    """Set when the real SQL has run: the statement ended, or only a simulated duration keeps it open."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def database(self) -> str:
        return str(self.request.get("Database") or DEFAULT_DATABASE)

    @property
    def simulated_end(self) -> datetime | None:
        """When a simulated duration lets the statement show its real final status."""
        if self.fault is None or self.fault.duration is None or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.fault.duration)

    def end_simulated_duration(self) -> None:
        """Cancelled while a simulated duration runs: its real end is what callers see now."""
        if self.fault is not None:
            self.fault = dataclasses.replace(self.fault, duration=None)

    def shown_status(self, now: datetime) -> Status:
        """The status callers see: STARTED while a simulated duration runs, else the real one."""
        end = self.simulated_end
        if end is not None and now < end and self.status in (Status.STARTED, *_FINALS):
            return Status.STARTED
        return self.status

    def shown_end(self) -> datetime | None:
        """When the statement ended as callers see it (None while it runs)."""
        if self.finished_at is None:
            return None
        end = self.simulated_end
        return max(self.finished_at, end) if end is not None else self.finished_at

    def duration_ns(self) -> int:
        end = self.shown_end()
        if end is None or self.started_at is None:
            return -1
        return int((end - self.started_at).total_seconds() * 1e9)

    def wait(self, clock: Clock, seconds: int | None) -> None:
        """Hold the request until the statement ends as callers see it, or `seconds` pass."""
        if not seconds:
            return
        deadline = clock.monotonic() + seconds
        while True:
            now = clock.now()
            remaining = deadline - clock.monotonic()
            if self.shown_status(now).final or remaining <= 0:
                return
            end = self.simulated_end
            if self.work_done.is_set() and end is not None and now < end:
                # Only the simulated duration is left: a VirtualClock jumps toward its end.
                clock.sleep(min(remaining, (end - now).total_seconds()))
            elif self.work_done.is_set():
                clock.wait(self.done, remaining)
            else:
                clock.wait(self.work_done, remaining)

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        """Whether the statement ended `ttl` or longer ago (its result and details are gone)."""
        end = self.shown_end()
        return end is not None and now >= end + ttl

    def overdue(self, now: datetime, max_seconds: float) -> bool:
        """Whether the statement has run for `max_seconds` or longer."""
        started = self.started_at
        return (
            not self.done.is_set() and started is not None and now - started >= timedelta(seconds=max_seconds)
        )

    def describe(self, now: datetime) -> dict[str, Any]:
        """DescribeStatement's answer."""
        shown = self.shown_status(now)
        final = shown.final
        request = self.request
        out: dict[str, Any] = {
            "Id": self.id,
            "Status": self.fault.unknown_status if self.fault and self.fault.unknown_status else str(shown),
            "CreatedAt": self.created_at,
            "UpdatedAt": (self.shown_end() if final else None) or self.updated_at or self.created_at,
            "Database": request.get("Database"),
            "ClusterIdentifier": request.get("ClusterIdentifier"),
            "WorkgroupName": request.get("WorkgroupName"),
            "DbUser": request.get("DbUser"),
            "SecretArn": request.get("SecretArn"),
            "RedshiftPid": self.redshift_pid,
            "Error": self.error if final else None,
            "Duration": self.duration_ns() if final else -1,
            "ResultFormat": request.get("ResultFormat") or "JSON",
            "SessionId": self.session_id,
            "QueryParameters": request.get("Parameters"),
        }
        if self.is_batch:
            sub_shown: Status | None = None if final else Status.STARTED
            out["SubStatements"] = [sub.describe(sub_shown or sub.status) for sub in self.subs]
            out["HasResultSet"] = any(sub.has_result_set for sub in self.subs)
            out["ResultRows"] = sum(max(sub.result_rows, 0) for sub in self.subs) if final else -1
            out["ResultSize"] = sum(max(sub.result_size, 0) for sub in self.subs) if final else -1
            out["RedshiftQueryId"] = max(sub.redshift_query_id for sub in self.subs)
            out["ExecutionMode"] = request.get("ExecutionMode") or "TRANSACTION"
        else:
            sub = self.subs[0].describe(shown)
            for name in ("QueryString", "HasResultSet", "ResultRows", "ResultSize", "RedshiftQueryId"):
                out[name] = sub[name]
        return out

    def summary(self, now: datetime) -> dict[str, Any]:
        """ListStatements' StatementData."""
        shown = self.shown_status(now)
        out: dict[str, Any] = {
            "Id": self.id,
            "Status": str(shown),
            "StatementName": self.request.get("StatementName"),
            "CreatedAt": self.created_at,
            "UpdatedAt": (self.shown_end() if shown.final else None) or self.updated_at or self.created_at,
            "SecretArn": self.request.get("SecretArn"),
            "QueryParameters": self.request.get("Parameters"),
            "IsBatchStatement": self.is_batch,
            "ResultFormat": self.request.get("ResultFormat") or "JSON",
            "SessionId": self.session_id,
        }
        if self.is_batch:
            out["QueryStrings"] = [sub.sql for sub in self.subs]
        else:
            out["QueryString"] = self.subs[0].sql
        return out


_FINALS = (Status.FINISHED, Status.FAILED, Status.ABORTED)
