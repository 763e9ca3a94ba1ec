"""Runs statements on a worker pool: SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from rsetl.clock import Clock
from rsetl.redshift_data.config import STATEMENT_WORKERS, Limits
from rsetl.redshift_data.connections import ConnectionPool, Session, error_text
from rsetl.redshift_data.results import ResultTooLarge, ResultWriter
from rsetl.redshift_data.runner import SqlRunner
from rsetl.redshift_data.statements import ABORTED_ERROR, Script, Statement, Status, SubStatement
from rsetl.redshift_data.users import LoginError
from rsetl.redshift_sql import RedshiftSqlError

logger = logging.getLogger(__name__)

_HOLD_POLL_SECONDS = 0.005


class _BatchFailed(Exception):
    """Raised inside a TRANSACTION batch to roll it back after a sub-statement failed."""


class StatementExecutor:
    """Owns the worker threads and the connection pool; reports each finished statement.

    At most `workers` statements run at once; later ones wait SUBMITTED for a free worker.
    Results larger than `Limits.result_memory_bytes` are written to files in `results_dir`.
    """

    def __init__(
        self,
        runner: SqlRunner,
        pool: ConnectionPool,
        clock: Clock,
        limits: Limits,
        on_done: Callable[[Statement], None],
        results_dir: Path,
        workers: int = STATEMENT_WORKERS,
    ) -> None:
        self._runner = runner
        self._results_dir = results_dir
        self._pool = pool
        self._clock = clock
        self._limits = limits
        self._on_done = on_done
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rsetl-redshift-data")
        self._query_ids = itertools.count(1000)
        self._query_id_lock = threading.Lock()
        self._closing = threading.Event()

    def submit(self, statement: Statement, session: Session | None) -> None:
        self._threads.submit(self._run, statement, session)

    def cancel(self, statement: Statement) -> None:
        """Ask the running query to stop; the worker records ABORTED."""
        with statement.lock:
            statement.cancel_requested = True
            conn = statement.connection
            if statement.status == Status.SUBMITTED:
                # Not picked yet: it ends now; the worker that picks it later skips it.
                self._finish(statement, Status.ABORTED, ABORTED_ERROR)
        if conn is not None and not conn.closed:
            conn.cancel_safe()

    def shutdown(self) -> None:
        # Statements held open through a simulated duration roll back instead of outliving the service.
        self._closing.set()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _next_query_id(self) -> int:
        with self._query_id_lock:
            return next(self._query_ids)

    def _set(self, statement: Statement, status: Status) -> None:
        statement.status = status
        statement.updated_at = self._clock.now()

    def _run(self, statement: Statement, session: Session | None) -> None:
        try:
            self._execute(statement, session)
        except Exception as error:
            logger.exception("statement %s failed in the local service", statement.id)
            self._finish(statement, Status.FAILED, f"ERROR: {error}")
        finally:
            statement.done.set()
            self._on_done(statement)

    def _execute(self, statement: Statement, session: Session | None) -> None:
        with statement.lock:
            if statement.cancel_requested:
                if not statement.status.final:
                    self._finish(statement, Status.ABORTED, ABORTED_ERROR)
                return
            self._set(statement, Status.PICKED)
        try:
            conn = self._connection(statement, session)
        except psycopg.Error as error:
            self._finish(statement, Status.FAILED, error_text(error))
            return
        except LoginError as error:
            self._finish(statement, Status.FAILED, str(error))
            return
        dirty = False
        ending: tuple[Status, str | None]
        try:
            with statement.lock:
                statement.connection = conn
                statement.redshift_pid = conn.info.backend_pid
                statement.started_at = self._clock.now()
                self._set(statement, Status.STARTED)
                cancelled = statement.cancel_requested
            fault = statement.fault
            if cancelled:
                ending = (Status.ABORTED, ABORTED_ERROR)
            elif fault is not None and fault.status is not None:
                for sub in statement.subs:
                    self._end_sub(sub, Status.ABORTED if fault.status == "ABORTED" else Status.FAILED)
                ending = (Status(fault.status), fault.error or ABORTED_ERROR)
            else:
                dirty = any(sub.script.touches_session for sub in statement.subs)
                # Connections opened before an isolation level changes keep the old level.
                changes_isolation = any(sub.script.changes_isolation for sub in statement.subs)
                if changes_isolation:
                    self._pool.close()
                ending = self._run_subs(statement, conn)
                if changes_isolation:
                    self._pool.close()
                    conn.close()
        finally:
            with statement.lock:
                statement.connection = None
            if session is None:
                self._pool.release(statement.database, statement.login, conn, dirty)
        # Only now, with its connection back in the pool: a caller that sees the statement end
        # and changes the database's isolation level finds no backend of it left behind.
        self._finish(statement, *ending)

    def _connection(self, statement: Statement, session: Session | None) -> psycopg.Connection[Any]:
        if session is None:
            return self._pool.acquire(statement.database, statement.login)
        if session.connection is None or session.connection.closed:
            session.connection = self._pool.acquire(session.database, session.login)
        return session.connection

    def _run_subs(self, statement: Statement, conn: psycopg.Connection[Any]) -> tuple[Status, str | None]:
        """Run the statement's SQL; its final status and error."""
        parameters = {p["name"]: p["value"] for p in statement.request.get("Parameters") or []} or None
        auto_commit = statement.is_batch and statement.request.get("ExecutionMode") == "AUTO_COMMIT"
        # A simulated duration keeps the transaction open until its end, so a cancel meanwhile
        # rolls the work back, as it would on Redshift.
        held = statement.simulated_end is not None and not auto_commit
        failed: SubStatement | None = None
        try:
            if (statement.is_batch and not auto_commit) or held:
                with conn.transaction():
                    failed = self._run_each(statement, conn, parameters)
                    if failed is None and held and not self._hold_until_simulated_end(statement):
                        failed = self._abort_all(statement)
                    if failed is not None:
                        raise _BatchFailed
            else:
                failed = self._run_each(statement, conn, parameters)
        except _BatchFailed:
            pass
        except psycopg.Error as error:
            # The COMMIT failed (under SERIALIZABLE a dependency cycle can surface only there):
            # the transaction rolled back, the last statement carries the error.
            failed = statement.subs[-1]
            self._end_sub(failed, Status.FAILED, error_text(error))
        if failed is None:
            return Status.FINISHED, None
        return failed.status, failed.error

    def _hold_until_simulated_end(self, statement: Statement) -> bool:
        """Wait (transaction open) for the simulated end on the clock; False when cancelled first.

        Polls in real time: on a VirtualClock, time moves when a caller waits for the statement.
        """
        statement.work_done.set()
        while not statement.cancel_requested and not self._closing.is_set():
            end = statement.simulated_end
            if end is None or self._clock.now() >= end:
                return True
            time.sleep(_HOLD_POLL_SECONDS)
        return False

    def _abort_all(self, statement: Statement) -> SubStatement:
        """Cancelled during its simulated duration: it ends ABORTED now, its work rolled back."""
        statement.end_simulated_duration()
        for sub in statement.subs:
            sub.drop_result()
            self._end_sub(sub, Status.ABORTED, ABORTED_ERROR)
        return statement.subs[-1]

    def _run_each(
        self, statement: Statement, conn: psycopg.Connection[Any], parameters: dict[str, str] | None
    ) -> SubStatement | None:
        for index, sub in enumerate(statement.subs):
            if statement.cancel_requested:
                self._end_sub(sub, Status.ABORTED, ABORTED_ERROR)
            else:
                self._run_sub(statement, sub, conn, parameters)
            if sub.status != Status.FINISHED:
                for rest in statement.subs[index + 1 :]:
                    self._end_sub(rest, Status.ABORTED)
                return sub
        return None

    def _run_sub(
        self,
        statement: Statement,
        sub: SubStatement,
        conn: psycopg.Connection[Any],
        parameters: dict[str, str] | None,
    ) -> None:
        sub.status = Status.STARTED
        sub.redshift_query_id = self._next_query_id()
        started = self._clock.monotonic()
        sub.updated_at = self._clock.now()
        result_format = statement.request.get("ResultFormat") or "JSON"
        writer = ResultWriter(self._results_dir / sub.id, result_format, self._limits)
        try:
            outcome = self._runner.run_script(conn, sub.script, _used_by(sub.script, parameters), writer)
        except psycopg.errors.QueryCanceled as error:
            writer.discard()
            if statement.cancel_requested:
                self._end_sub(sub, Status.ABORTED, ABORTED_ERROR, started)
            else:
                self._end_sub(sub, Status.FAILED, error_text(error), started)
            return
        except psycopg.Error as error:
            writer.discard()
            self._end_sub(sub, Status.FAILED, error_text(error), started)
            return
        except RedshiftSqlError as error:
            # Unsupported constructs, bad parameters, COPY/UNLOAD failures: the message says which.
            writer.discard()
            self._end_sub(sub, Status.FAILED, f"ERROR: {error.message}", started)
            return
        except ResultTooLarge as error:
            writer.discard()
            self._end_sub(sub, Status.FAILED, str(error), started)
            return
        if outcome.columns is not None:
            sub.result = writer.finish(outcome.columns)
            sub.has_result_set = True
            sub.result_rows = sub.result.total_rows
            sub.result_size = sub.result.size
        else:
            writer.discard()
            sub.result_rows = max(outcome.rows_affected, 0)
            sub.result_size = 0
        self._end_sub(sub, Status.FINISHED, None, started)

    def _end_sub(
        self, sub: SubStatement, status: Status, error: str | None = None, started: float | None = None
    ) -> None:
        sub.status = status
        sub.error = error
        sub.updated_at = self._clock.now()
        if started is not None:
            sub.duration_ns = int((self._clock.monotonic() - started) * 1e9)

    def _finish(self, statement: Statement, status: Status, error: str | None) -> None:
        now = self._clock.now()
        statement.error = error if status != Status.FINISHED else None
        statement.finished_at = now
        if statement.started_at is None:
            statement.started_at = now
        for sub in statement.subs:
            if not sub.status.final:
                self._end_sub(sub, Status.ABORTED if status == Status.ABORTED else status, error)
        statement.work_done.set()
        self._set(statement, status)


def _used_by(script: Script, parameters: dict[str, str] | None) -> dict[str, str] | None:
    """A batch's parameters are shared; each statement gets the ones it references."""
    if parameters is None:
        return None
    return {name: value for name, value in parameters.items() if name in script.parameters}
