"""The state of the local Data API: statements, client tokens, sessions, the sweep and aborts.

The wire layer (`service.py`) checks requests and shapes answers; everything a statement goes
through after its submit, and every cancel, happens here. Longer than 400 lines because submit,
sweep, end and cancel share one lock over the statements, client tokens and sessions: read together.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

import psycopg

from rsetl.awsproto import RequestContext
from rsetl.clock import Clock, RealClock
from rsetl.redshift_data.config import STATEMENT_WORKERS, Faults, Limits
from rsetl.redshift_data.connections import ConnectionPool, ConnInfo, Session
from rsetl.redshift_data.events import EventSink, status_change_entry
from rsetl.redshift_data.exceptions import (
    ActiveStatementsExceededException,
    ValidationException,
)
from rsetl.redshift_data.executor import StatementExecutor
from rsetl.redshift_data.iam import caller_arn, owner_of
from rsetl.redshift_data.results import clear_result_files
from rsetl.redshift_data.runner import SqlRunner
from rsetl.redshift_data.sessions import SessionTable
from rsetl.redshift_data.statements import (
    ABORTED_ERROR,
    DEFAULT_DATABASE,
    Statement,
    Status,
    SubStatement,
)
from rsetl.redshift_data.users import DatabaseAuth, DatabaseLogin, DatabaseUsers

logger = logging.getLogger(__name__)
_CANCEL_WAIT_SECONDS = 10.0
"""How long a shutdown keeps cancelling a statement that has not ended yet."""
_CANCEL_REPEAT_SECONDS = 0.05
_TOKEN_FIELDS = ("ClientToken", "WaitTimeSeconds")


class BackendOptions(TypedDict, total=False):
    """The backend's keyword arguments (see `RedshiftDataBackend`); the service passes them on."""

    clock: Clock | None
    limits: Limits | None
    faults: Faults | None
    event_sink: EventSink | None
    auth: DatabaseAuth | None
    workers: int
    sweep_interval: float
    results_dir: Path | None


class RedshiftDataBackend:
    """Runs Data API statements on PostgreSQL through a Redshift-dialect SQL runner.

    `conninfo` maps a database name to a libpq connection string; `runner` parses and runs SQL
    (`rsetl.redshift_sql.RedshiftSqlRunner`). Time (waits, simulated durations, expiry, session
    keep-alive) is read from `clock`. `limits` and `faults` may be changed while the backend
    runs. `event_sink` receives the events of statements submitted `WithEvent`. `auth` maps each
    request to the database user its SQL runs as. At most `workers` statements run at once.
    Large results are kept in files in `results_dir` (a temporary folder the backend owns when
    not given) until they expire; files left there by an earlier backend are deleted at start.
    """

    def __init__(self, conninfo: ConnInfo, runner: SqlRunner, **options: Unpack[BackendOptions]) -> None:
        workers = options.get("workers", STATEMENT_WORKERS)
        if workers < 1:
            raise ValueError(f"statement workers must be at least 1, not {workers}")
        self.clock: Clock = options.get("clock") or RealClock()
        self.auth = options.get("auth") or DatabaseAuth()
        self.limits = options.get("limits") or Limits()
        self.faults = options.get("faults") or Faults()
        self.event_sink = options.get("event_sink")
        results_dir = options.get("results_dir")
        self.users = DatabaseUsers(conninfo, self.auth.admin_user)
        self._runner = runner
        self._pool = ConnectionPool(self.users)
        self._owned_results_dir = results_dir is None
        self.results_dir = results_dir or Path(tempfile.mkdtemp(prefix="rsetl-redshift-data-results-"))
        clear_result_files(self.results_dir)
        self._executor = StatementExecutor(
            runner, self._pool, self.clock, self.limits, self._statement_done, self.results_dir, workers
        )
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._statements: dict[str, Statement] = {}
        self._tokens: dict[tuple[str, str], tuple[str, str]] = {}
        self._sessions = SessionTable()
        self._active = 0
        self._stop = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep_loop,
            args=(options.get("sweep_interval", 1.0),),
            name="rsetl-redshift-data-sweep",
            daemon=True,
        )
        self._sweeper.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sweeper and the workers, close sessions and pooled connections."""
        self._stop.set()
        self._executor.shutdown()
        with self._lock:
            sessions = self._sessions.clear()
        for session in sessions:
            session.close()
        self._pool.close()
        if self._owned_results_dir:
            shutil.rmtree(self.results_dir, ignore_errors=True)

    def stop_statements(self, grace_seconds: float) -> tuple[int, int]:
        """Give the statements whose SQL is still running `grace_seconds` (real time) to end, then
        cancel the rest (they end ABORTED); returns (ended within the grace, cancelled)."""
        running = [stmt for stmt in self.statements() if not stmt.work_done.is_set()]
        deadline = time.monotonic() + grace_seconds
        for stmt in running:
            stmt.work_done.wait(max(0.0, deadline - time.monotonic()))
        left = [stmt for stmt in running if not stmt.work_done.is_set()]
        for stmt in left:
            self._cancel_until(stmt, stmt.work_done, time.monotonic() + _CANCEL_WAIT_SECONDS)
        return len(running) - len(left), len(left)

    def close_idle_connections(self) -> None:
        """Drop pooled connections, so later statements take a changed database isolation level."""
        self._pool.close()

    @property
    def statement_count(self) -> int:
        """Statements held in memory (finished ones until they expire)."""
        with self._lock:
            return len(self._statements)

    def statements(self) -> list[Statement]:
        """A snapshot of the statements held in memory, in submission order (for tests and tools)."""
        with self._lock:
            return sorted(self._statements.values(), key=lambda stmt: stmt.seq)

    def sweep(self) -> int:
        """Forget expired statements, close expired sessions, cancel statements past the maximum
        run time, send due events; returns how many statements expired."""
        now = self.clock.now()
        ttl = self._ttl
        with self._lock:
            expired = {sid for sid, stmt in self._statements.items() if stmt.expired(now, ttl)}
            gone = [self._statements.pop(sid) for sid in expired]
            if expired:
                self._tokens = {key: ref for key, ref in self._tokens.items() if ref[1] not in expired}
            pending = [
                s for s in self._statements.values() if s.request.get("WithEvent") and not s.event_sent
            ]
            overdue = [
                s for s in self._statements.values() if s.overdue(now, self.limits.max_statement_seconds)
            ]
            closing = self._sessions.expire(now, ttl)
        for stmt in gone:
            for sub in stmt.subs:
                sub.drop_result()
        for session in closing:
            session.close()
        for stmt in overdue:
            self._executor.cancel(stmt)
        for stmt in pending:
            self.emit(stmt)
        return len(expired)

    def _sweep_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                logger.exception("redshift-data sweep failed")

    @property
    def _ttl(self) -> timedelta:
        return timedelta(seconds=self.limits.result_ttl_seconds)

    # -- statements --------------------------------------------------------------------------

    def submit(
        self,
        params: dict[str, Any],
        context: RequestContext,
        sqls: list[str],
        is_batch: bool,
        resource_arn: Callable[[Mapping[str, Any]], str],
    ) -> Statement:
        """The statement of an ExecuteStatement or BatchExecuteStatement: the one an earlier call
        with the same ClientToken submitted, else a new one now queued for a worker.
        `resource_arn` names the cluster or workgroup of the request its session completes."""
        scripts = [self._runner.parse(sql) for sql in sqls]
        names = [p["name"] for p in params.get("Parameters") or []]
        if is_batch and names:
            referenced = set().union(*(script.parameters for script in scripts))
            unused = sorted(set(names) - referenced)
            if unused:
                raise ValidationException(
                    f"Each provided parameter must be referenced by at least one SQL statement in the batch; "
                    f"not referenced: {', '.join(unused)}."
                )
        token = params.get("ClientToken")
        fingerprint = json.dumps(
            {k: v for k, v in params.items() if k not in _TOKEN_FIELDS}, sort_keys=True, default=str
        )
        with self._lock:
            stmt = self._replay(context.principal, token, fingerprint)
            if stmt is not None:
                return stmt
            if self._active >= self.limits.max_active_statements:
                raise ActiveStatementsExceededException(
                    f"Active statements exceeded the allowed quota ({self.limits.max_active_statements})."
                )
            now = self.clock.now()
            statement_id = str(uuid.uuid4())
            session = self._sessions.take(
                params,
                (context.principal, owner_of(context)),
                lambda: self.auth.login_for(params, context),
                statement_id,
                now,
                max_open=self.limits.max_active_sessions,
                is_busy=self._is_running,
            )
            request = dict(params)
            if session is not None:
                for name, value in session.request.items():
                    request.setdefault(name, value)
            request.setdefault("Database", DEFAULT_DATABASE)
            stmt = Statement(
                id=statement_id,
                seq=next(self._seq),
                principal=context.principal,
                request=request,
                subs=[
                    SubStatement(f"{statement_id}:{n}" if is_batch else statement_id, sql, now, now, script)
                    for n, (sql, script) in enumerate(zip(sqls, scripts, strict=True), start=1)
                ],
                is_batch=is_batch,
                created_at=now,
                updated_at=now,
                fault=self.faults.for_sql("\n".join(sqls)),
                login=session.login if session is not None else self.auth.login_for(request, context),
                session_id=session.id if session else None,
                principal_arn=caller_arn(context),
                resource_arn=resource_arn(request),
                owner=owner_of(context),
            )
            self._statements[statement_id] = stmt
            if token:
                self._tokens[(context.principal, token)] = (fingerprint, statement_id)
            self._active += 1
            self._executor.submit(stmt, session)
        return stmt

    def _is_running(self, statement_id: str) -> bool:
        running = self._statements.get(statement_id)
        return running is not None and not running.status.final

    def _replay(self, principal: str, token: str | None, fingerprint: str) -> Statement | None:
        """The statement an earlier call with the same ClientToken submitted, if any."""
        if not token:
            return None
        known = self._tokens.get((principal, token))
        if known is None:
            return None
        if known[0] != fingerprint:
            raise ValidationException(
                f"ClientToken {token} was already used with different parameters; "
                "use a new ClientToken for a different request."
            )
        stmt = self._statements.get(known[1])
        if stmt is None:
            raise ValidationException(f"ClientToken {token} refers to a statement that has expired.")
        return stmt

    def _statement_done(self, stmt: Statement) -> None:
        with self._lock:
            self._active -= 1
            closing = self._sessions.release(stmt.session_id, stmt.id, self.clock.now())
        if closing is not None:
            closing.close()
        self.emit(stmt)

    def find(self, statement_id: str, context: RequestContext) -> Statement | None:
        """The caller's statement `statement_id` (no sub-statement suffix), unless it expired."""
        with self._lock:
            stmt = self._statements.get(statement_id)
        if stmt is None or stmt.owner != owner_of(context) or stmt.expired(self.clock.now(), self._ttl):
            return None
        return stmt

    def results_in_memory(self, statement_id: str) -> bool:
        """Whether every result of the statement is held in memory (none spilled to disk)."""
        with self._lock:
            stmt = self._statements.get(statement_id)
        return stmt is not None and all(
            sub.result is None or sub.result.data is not None for sub in stmt.subs
        )

    def visible_statements(self, context: RequestContext) -> list[Statement]:
        """The caller's unexpired statements, newest first."""
        now = self.clock.now()
        with self._lock:
            mine = [s for s in self._statements.values() if s.owner == owner_of(context)]
        return [s for s in sorted(mine, key=lambda s: s.seq, reverse=True) if not s.expired(now, self._ttl)]

    def session_infos(self, context: RequestContext) -> list[dict[str, Any]]:
        """ListSessions' SessionInfo of each of the caller's sessions."""
        with self._lock:
            return [session.info() for session in self._sessions.owned_by(owner_of(context))]

    def session(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    # -- aborts ------------------------------------------------------------------------------

    def cancel(self, stmt: Statement) -> bool:
        """CancelStatement: end the statement ABORTED; whether it was."""
        shown = stmt.shown_status(self.clock.now())
        if shown.final:
            raise ValidationException(f"Could not cancel a query that is already in {shown} state.")
        if stmt.done.is_set():
            self._abort_simulated(stmt)
        else:
            self._cancel_until(stmt, stmt.done, None)
        self.emit(stmt)
        return stmt.status == Status.ABORTED

    def _cancel_until(self, stmt: Statement, ended: threading.Event, deadline: float | None) -> None:
        """Cancel the running statement until `ended` is set (or the real-time `deadline` passes).

        A cancel sent just before the query reaches the server is lost: it is repeated.
        """
        self._executor.cancel(stmt)
        while not stmt.status.final and not ended.wait(_CANCEL_REPEAT_SECONDS):
            if deadline is not None and time.monotonic() >= deadline:
                return
            self._executor.cancel(stmt)

    def _abort_simulated(self, stmt: Statement) -> None:
        """Cancel a statement whose real work is over but whose simulated duration still runs."""
        now = self.clock.now()
        with stmt.lock:
            stmt.end_simulated_duration()
            stmt.status = Status.ABORTED
            stmt.error = ABORTED_ERROR
            stmt.finished_at = now
            stmt.updated_at = now
            for sub in stmt.subs:
                sub.status = Status.ABORTED
                sub.drop_result()

    # -- events and catalog ------------------------------------------------------------------

    def emit(self, stmt: Statement) -> None:
        """Send the statement's status-change event once it ended as callers see it (WithEvent)."""
        if self.event_sink is None or not stmt.request.get("WithEvent"):
            return
        now = self.clock.now()
        shown = stmt.shown_status(now)
        if not shown.final:
            return
        with stmt.lock:
            if stmt.event_sent:
                return
            stmt.event_sent = True
        end = stmt.shown_end() or now
        entry = status_change_entry(
            principal_arn=stmt.principal_arn,
            resource_arn=stmt.resource_arn,
            statement_id=stmt.id,
            statement_name=stmt.request.get("StatementName"),
            redshift_query_id=max(sub.redshift_query_id for sub in stmt.subs),
            state=str(shown),
            rows=sum(max(sub.result_rows, 0) for sub in stmt.subs),
            time=end,
            expire_at=end + self._ttl,
        )
        try:
            self.event_sink(entry)
        except Exception:
            logger.exception("event sink failed for statement %s", stmt.id)

    def catalog_connection(
        self, database: str, login: DatabaseLogin
    ) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A pooled connection for the metadata operations (ListTables...)."""
        return self._pool.borrowed(database, login)
