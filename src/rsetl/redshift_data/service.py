"""The local Redshift Data API: every operation of botocore's `redshift-data` model."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, DropConnection, JsonService, RequestContext
from rsetl.clock import Clock, RealClock
from rsetl.redshift_data import catalog
from rsetl.redshift_data.config import STATEMENT_WORKERS, Faults, Limits, RateLimiter
from rsetl.redshift_data.connections import ConnectionPool, ConnInfo, Session, error_text
from rsetl.redshift_data.events import EventSink, status_change_entry
from rsetl.redshift_data.exceptions import (
    ActiveSessionsExceededException,
    ActiveStatementsExceededException,
    DatabaseConnectionException,
    ResourceNotFoundException,
    ThrottlingException,
    ValidationException,
)
from rsetl.redshift_data.executor import StatementExecutor
from rsetl.redshift_data.results import NO_RESULT
from rsetl.redshift_data.runner import SqlRunner
from rsetl.redshift_data.statements import Statement, Status, SubStatement
from rsetl.redshift_data.users import DatabaseAuth, DatabaseLogin, DatabaseUsers, LoginError
from rsetl.redshift_sql import referenced_parameters

logger = logging.getLogger(__name__)
_CANCEL_WAIT_SECONDS = 10.0
"""How long a shutdown keeps cancelling a statement that has not ended yet."""

T = TypeVar("T")

DEFAULT_DATABASE = "dev"
_TOKEN_FIELDS = ("ClientToken", "WaitTimeSeconds")
_READS_AT_ONCE = ("GetStatementResult", "GetStatementResultV2")
_STATEMENT_FILTERS = ("Database", "ClusterIdentifier", "WorkgroupName")
_STATEMENT_ACTIONS = {
    "DescribeStatement": "redshift-data:DescribeStatement",
    "CancelStatement": "redshift-data:CancelStatement",
    "GetStatementResult": "redshift-data:GetStatementResult",
    # "The IAM action redshift-data:GetStatementResult allows access to both GetStatementResult
    # and GetStatementResultV2" (Amazon Redshift Management Guide, "Configuring IAM permissions",
    # https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html).
    "GetStatementResultV2": "redshift-data:GetStatementResult",
}
"""Operations on one statement: IAM checks them once the statement's owner is known."""
_TARGETED = {
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ListDatabases",
    "ListSchemas",
    "ListTables",
    "DescribeTable",
}
"""Operations whose IAM resource is the cluster or workgroup they run on."""
STATEMENT_OWNER_KEY = "redshift-data:statement-owner-iam-userid"


class RedshiftDataService(JsonService):
    """Runs Data API statements on PostgreSQL through a Redshift-dialect SQL runner.

    `conninfo` maps a database name to a libpq connection string; `runner` runs one statement
    (`rsetl.redshift_sql.RedshiftSqlRunner`). Time (waits, simulated durations, expiry, session
    keep-alive, rate limits) is read from `clock`. `limits` and `faults` may be changed while
    the service runs. `event_sink` receives the events of statements submitted `WithEvent`.
    `auth` maps each request to the database user its SQL runs as (`users.DatabaseAuth`).
    At most `workers` statements run at once. Large results are kept in files in `results_dir`
    (a temporary folder the service owns when not given) until they expire; files left there by
    an earlier service are deleted at start, as their statements are gone.
    """

    service_name = "redshift-data"

    def __init__(
        self,
        conninfo: ConnInfo,
        runner: SqlRunner,
        *,
        clock: Clock | None = None,
        limits: Limits | None = None,
        faults: Faults | None = None,
        event_sink: EventSink | None = None,
        auth: DatabaseAuth | None = None,
        workers: int = STATEMENT_WORKERS,
        sweep_interval: float = 1.0,
        workgroup_ids: Mapping[str, str] | None = None,
        results_dir: Path | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"statement workers must be at least 1, not {workers}")
        self.clock: Clock = clock or RealClock()
        self.auth = auth or DatabaseAuth()
        self.workgroup_ids = dict(workgroup_ids or {})
        """Workgroup name -> ID: a Serverless workgroup's ARN ends in its ID, not its name."""
        self.limits = limits or Limits()
        self.faults = faults or Faults()
        self.event_sink = event_sink
        self.users = DatabaseUsers(conninfo, self.auth.admin_user)
        self._pool = ConnectionPool(self.users)
        self._owned_results_dir = results_dir is None
        self.results_dir = results_dir or Path(tempfile.mkdtemp(prefix="rsetl-redshift-data-results-"))
        _clear_results(self.results_dir)
        self._executor = StatementExecutor(
            runner, self._pool, self.clock, self.limits, self._statement_done, self.results_dir, workers
        )
        self._rates = RateLimiter(self.clock)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._statements: dict[str, Statement] = {}
        self._tokens: dict[tuple[str, str], tuple[str, str]] = {}
        self._sessions: dict[str, Session] = {}
        self._active = 0
        self._stop = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep_loop, args=(sweep_interval,), name="rsetl-redshift-data-sweep", daemon=True
        )
        self._sweeper.start()

    # -- service lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sweeper and the workers, close sessions and pooled connections."""
        self._stop.set()
        self._executor.shutdown()
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
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
            # A cancel sent just before the query reaches the server is lost: repeat until it ends.
            cancel_deadline = time.monotonic() + _CANCEL_WAIT_SECONDS
            while not stmt.work_done.is_set() and time.monotonic() < cancel_deadline:
                self._executor.cancel(stmt)
                stmt.work_done.wait(0.05)
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
        ttl = timedelta(seconds=self.limits.result_ttl_seconds)
        with self._lock:
            expired = {sid for sid, stmt in self._statements.items() if _expired(stmt, now, ttl)}
            gone = [self._statements.pop(sid) for sid in expired]
            if expired:
                self._tokens = {key: ref for key, ref in self._tokens.items() if ref[1] not in expired}
            pending = [
                s for s in self._statements.values() if s.request.get("WithEvent") and not s.event_sent
            ]
            overdue = [s for s in self._statements.values() if _overdue(s, now, self.limits)]
            closing = [s for s in self._sessions.values() if _session_due(s, now)]
            for session in closing:
                session.closed = True
            stale = [sid for sid, s in self._sessions.items() if s.closed and now - s.updated_at >= ttl]
            for sid in stale:
                del self._sessions[sid]
        for stmt in gone:
            for sub in stmt.subs:
                sub.drop_result()
        for session in closing:
            session.close()
        for stmt in overdue:
            self._executor.cancel(stmt)
        for stmt in pending:
            self._maybe_emit(stmt)
        return len(expired)

    def _sweep_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                logger.exception("redshift-data sweep failed")

    # -- protocol ----------------------------------------------------------------------------

    def answers_at_once(self, request: AwsRequest) -> bool:
        """A GetStatementResult(V2) page held in memory, with no WaitTimeSeconds and no fault on the
        operation: read from memory, so the server answers it on its event loop."""
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        if operation not in _READS_AT_ONCE or self.faults.injects(operation):
            return False
        params = json.loads(request.body)
        if params.get("WaitTimeSeconds"):
            return False
        with self._lock:
            stmt = self._statements.get(str(params["Id"]).partition(":")[0])
        return stmt is not None and all(
            sub.result is None or sub.result.data is not None for sub in stmt.subs
        )

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        """Apply injected faults, delays and rate limits before the operation runs."""
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        drop = self.faults.take_drop(operation)
        if drop is False:
            raise DropConnection(operation)
        injected = self.faults.take_error(operation)
        if injected is not None:
            return self.error_response(AwsError(injected.code, injected.message, injected.status), context)
        delay = self.faults.delay_for(operation)
        if delay:
            self.clock.sleep(delay)
        if not self._rates.allow(operation, self.limits.requests_per_second.get(operation)):
            return self.error_response(ThrottlingException("Rate exceeded"), context)
        response = super().handle(request, context)
        if drop:
            raise DropConnection(operation)
        return response

    # -- statements --------------------------------------------------------------------------

    # -- IAM -----------------------------------------------------------------------------------

    def operation_resources(
        self, operation: str, params: dict[str, Any], context: RequestContext
    ) -> list[str]:
        """The cluster or workgroup for submits and metadata; none for statement operations,
        which :meth:`_lookup` checks with the statement's owner (Service Authorization Reference,
        "Actions, resources, and condition keys for Amazon Redshift Data API",
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html)."""
        if operation in _STATEMENT_ACTIONS:
            return []
        if operation not in _TARGETED:
            return ["*"]
        target = params
        if params.get("SessionId"):
            with self._lock:
                session = self._sessions.get(str(params["SessionId"]))
            target = session.request if session is not None else params
        if not (target.get("ClusterIdentifier") or target.get("WorkgroupName")):
            return ["*"]
        return [self._target_arn(target, context)]

    def authorize_operation(self, operation: str, params: dict[str, Any], context: RequestContext) -> None:
        """The operation on its resource first, then the database sign-in a new connection needs."""
        super().authorize_operation(operation, params, context)
        targeted = params.get("ClusterIdentifier") or params.get("WorkgroupName")
        if operation in _TARGETED and targeted and not params.get("SessionId"):
            self._authorize_credentials(params, context)

    def _authorize_credentials(self, target: Mapping[str, Any], context: RequestContext) -> None:
        """The calls the Data API makes with the caller's identity to sign in to the database:
        GetClusterCredentials (DbUser), GetCredentials (Serverless, IAM identity), or
        GetSecretValue (SecretArn) ("Configuring IAM permissions",
        https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html)."""
        prefix = f"{context.region}:{context.account_id}"
        database = str(target.get("Database") or DEFAULT_DATABASE)
        if target.get("SecretArn"):
            context.authorize("secretsmanager:GetSecretValue", str(target["SecretArn"]))
        elif target.get("WorkgroupName"):
            context.authorize("redshift-serverless:GetCredentials", self._target_arn(target, context))
        elif target.get("DbUser"):
            cluster = target["ClusterIdentifier"]
            context.authorize(
                "redshift:GetClusterCredentials",
                f"arn:aws:redshift:{prefix}:dbuser:{cluster}/{target['DbUser']}",
            )
            context.authorize(
                "redshift:GetClusterCredentials", f"arn:aws:redshift:{prefix}:dbname:{cluster}/{database}"
            )
        else:
            cluster = target["ClusterIdentifier"]
            context.authorize(
                "redshift:GetClusterCredentialsWithIAM",
                f"arn:aws:redshift:{prefix}:dbname:{cluster}/{database}",
            )

    def workgroup_id(self, name: str) -> str:
        """The ID of a local workgroup: as configured, else derived from its name (stable)."""
        return self.workgroup_ids.get(name) or local_workgroup_id(name)

    def _target_arn(self, request: Mapping[str, Any], context: RequestContext) -> str:
        if request.get("WorkgroupName"):
            name = str(request["WorkgroupName"])
            if name.startswith("arn:"):
                return name
            workgroup_id = self.workgroup_id(name)
            return (
                f"arn:aws:redshift-serverless:{context.region}:{context.account_id}:workgroup/{workgroup_id}"
            )
        cluster = request.get("ClusterIdentifier")
        return f"arn:aws:redshift:{context.region}:{context.account_id}:cluster:{cluster}"

    def execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return self._submit(params, context, [params["Sql"]], is_batch=False)

    def batch_execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return self._submit(params, context, list(params["Sqls"]), is_batch=True)

    def describe_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        stmt, sub = self._lookup(params["Id"], context, "DescribeStatement")
        self._wait(stmt, params.get("WaitTimeSeconds"))
        self._maybe_emit(stmt)
        out = stmt.describe(self.clock.now())
        if sub is not None:
            detail = next(item for item in out.pop("SubStatements") if item["Id"] == sub.id)
            out.update(detail)
        return out

    def get_statement_result(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        sub = self._result_of(params, context, "JSON", "GetStatementResult")
        assert sub.result is not None
        index, following = sub.result.page(params.get("NextToken"), sub.id)
        return {
            "Records": sub.result.records(index),
            "ColumnMetadata": sub.result.columns,
            "TotalNumRows": sub.result.total_rows,
            "NextToken": following,
        }

    def get_statement_result_v2(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        sub = self._result_of(params, context, "CSV", "GetStatementResultV2")
        assert sub.result is not None
        index, following = sub.result.page(params.get("NextToken"), sub.id)
        return {
            "Records": [{"CSVRecords": sub.result.csv(index)}],
            "ColumnMetadata": sub.result.columns,
            "TotalNumRows": sub.result.total_rows,
            "ResultFormat": "CSV",
            "NextToken": following,
        }

    def cancel_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        stmt, _ = self._lookup(params["Id"], context, "CancelStatement")
        shown = stmt.shown_status(self.clock.now())
        if shown.final:
            raise ValidationException(f"Could not cancel a query that is already in {shown} state.")
        if stmt.done.is_set():
            self._abort_simulated(stmt)
        else:
            self._executor.cancel(stmt)
            # A cancel sent just before the query reaches the server is lost: repeat until it ends.
            while not stmt.status.final and not stmt.done.wait(0.05):
                self._executor.cancel(stmt)
        self._maybe_emit(stmt)
        return {"Status": stmt.status == Status.ABORTED}

    def list_statements(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        now = self.clock.now()
        prefix = params.get("StatementName")
        status = params.get("Status", "ALL")
        with self._lock:
            mine = [s for s in self._statements.values() if s.owner == _owner(context)]
        if params.get("RoleLevel") is False:
            # RoleLevel false: only the statements of the caller's own IAM session.
            mine = [s for s in mine if s.principal == context.principal]
        ttl = timedelta(seconds=self.limits.result_ttl_seconds)
        selected = [
            stmt
            for stmt in sorted(mine, key=lambda s: s.seq, reverse=True)
            if not _expired(stmt, now, ttl)
            and (not prefix or str(stmt.request.get("StatementName") or "").startswith(prefix))
            and (status == "ALL" or stmt.shown_status(now) == status)
            and all(params.get(name) in (None, stmt.request.get(name)) for name in _STATEMENT_FILTERS)
        ]
        page, following = _paginate(selected, params, default_size=100)
        return {"Statements": [stmt.summary(now) for stmt in page], "NextToken": following}

    def list_sessions(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        wanted = {params["Status"]} if params.get("Status") else {"AVAILABLE", "BUSY"}
        with self._lock:
            infos = [
                s.info()
                for s in self._sessions.values()
                if s.owner == _owner(context) and params.get("SessionId") in (None, s.id)
            ]
        selected = [
            info
            for info in sorted(infos, key=lambda i: i["CreatedAt"], reverse=True)
            if info["Status"] in wanted
            and all(params.get(name) in (None, info.get(name)) for name in _STATEMENT_FILTERS)
        ]
        page, following = _paginate(selected, params, default_size=100)
        return {"Sessions": page, "NextToken": following}

    # -- metadata ----------------------------------------------------------------------------

    def list_databases(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        _check_target(params)
        names = self._with_catalog(params, context, catalog.list_databases)
        page, following = _paginate(names, params, default_size=1000)
        return {"Databases": page, "NextToken": following}

    def list_schemas(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        _check_target(params)
        names = self._with_catalog(
            params, context, lambda conn: catalog.list_schemas(conn, params.get("SchemaPattern"))
        )
        page, following = _paginate(names, params, default_size=1000)
        return {"Schemas": page, "NextToken": following}

    def list_tables(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        _check_target(params)
        tables = self._with_catalog(
            params,
            context,
            lambda conn: catalog.list_tables(conn, params.get("SchemaPattern"), params.get("TablePattern")),
        )
        page, following = _paginate(tables, params, default_size=1000)
        return {"Tables": page, "NextToken": following}

    def describe_table(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        _check_target(params)
        columns = self._with_catalog(
            params,
            context,
            lambda conn: catalog.describe_columns(conn, params.get("Schema"), params.get("Table")),
        )
        page, following = _paginate(columns, params, default_size=1000)
        return {"TableName": params.get("Table"), "ColumnList": page, "NextToken": following}

    # -- internals ---------------------------------------------------------------------------

    def _submit(
        self, params: dict[str, Any], context: RequestContext, sqls: list[str], is_batch: bool
    ) -> dict[str, Any]:
        if not params.get("SessionId"):
            _check_target(params)
        for sql in sqls:
            if len(sql.encode()) > self.limits.max_sql_bytes:
                raise ValidationException(
                    f"The SQL statement is {len(sql.encode())} bytes; "
                    f"the maximum size is {self.limits.max_sql_bytes} bytes."
                )
            if not sql.strip():
                raise ValidationException("The SQL statement must not be empty.")
        names = [p["name"] for p in params.get("Parameters") or []]
        if len(names) != len(set(names)):
            raise ValidationException("Parameter names must be unique.")
        if is_batch and names:
            referenced = set().union(*(referenced_parameters(sql) for sql in sqls))
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
            if stmt is None:
                stmt, session = self._register(params, context, sqls, is_batch, token, fingerprint)
                self._executor.submit(stmt, session)
        self._wait(stmt, params.get("WaitTimeSeconds"))
        self._maybe_emit(stmt)
        request = stmt.request
        return {
            "Id": stmt.id,
            "CreatedAt": stmt.created_at,
            "ClusterIdentifier": request.get("ClusterIdentifier"),
            "WorkgroupName": request.get("WorkgroupName"),
            "Database": request.get("Database"),
            "DbUser": request.get("DbUser"),
            "SecretArn": request.get("SecretArn"),
            "SessionId": stmt.session_id,
            "Status": str(stmt.shown_status(self.clock.now())),
            "RedshiftPid": stmt.redshift_pid,
            "HasResultSet": any(sub.has_result_set for sub in stmt.subs),
        }

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

    def _register(
        self,
        params: dict[str, Any],
        context: RequestContext,
        sqls: list[str],
        is_batch: bool,
        token: str | None,
        fingerprint: str,
    ) -> tuple[Statement, Session | None]:
        if self._active >= self.limits.max_active_statements:
            raise ActiveStatementsExceededException(
                f"Active statements exceeded the allowed quota ({self.limits.max_active_statements})."
            )
        now = self.clock.now()
        statement_id = str(uuid.uuid4())
        session = self._session_for(params, context, statement_id, now)
        request = dict(params)
        if session is not None:
            for name, value in session.request.items():
                request.setdefault(name, value)
        request.setdefault("Database", DEFAULT_DATABASE)
        login = session.login if session is not None else self.auth.login_for(request, context)
        subs = [
            SubStatement(f"{statement_id}:{n}" if is_batch else statement_id, sql, now, now)
            for n, sql in enumerate(sqls, start=1)
        ]
        stmt = Statement(
            id=statement_id,
            seq=next(self._seq),
            principal=context.principal,
            request=request,
            subs=subs,
            is_batch=is_batch,
            created_at=now,
            updated_at=now,
            fault=self.faults.for_sql("\n".join(sqls)),
            login=login,
            session_id=session.id if session else None,
            principal_arn=_caller_arn(context),
            resource_arn=self._target_arn(request, context),
            owner=_owner(context),
        )
        self._statements[statement_id] = stmt
        if token:
            self._tokens[(context.principal, token)] = (fingerprint, statement_id)
        self._active += 1
        return stmt, session

    def _session_for(
        self, params: dict[str, Any], context: RequestContext, statement_id: str, now: datetime
    ) -> Session | None:
        keep_alive = params.get("SessionKeepAliveSeconds")
        session_id = params.get("SessionId")
        if session_id:
            session = self._sessions.get(session_id)
            if session is None or session.owner != _owner(context) or session.closed:
                raise ResourceNotFoundException(f"Session {session_id} does not exist or has expired.")
            if _session_due(session, now):
                session.closed = True
                raise ResourceNotFoundException(f"Session {session_id} does not exist or has expired.")
            running = self._statements.get(session.current_statement or "")
            # A statement whose final status is set no longer uses the connection; its worker
            # may not have released the session yet.
            if running is not None and not running.status.final:
                raise ValidationException(
                    f"Session {session_id} is busy running statement {session.current_statement}; "
                    "wait for it to finish before submitting another."
                )
        elif keep_alive:
            open_sessions = sum(1 for s in self._sessions.values() if not s.closed)
            if open_sessions >= self.limits.max_active_sessions:
                raise ActiveSessionsExceededException(
                    f"Active sessions exceeded the allowed quota ({self.limits.max_active_sessions})."
                )
            target = {k: params.get(k) for k in ("ClusterIdentifier", "WorkgroupName", "DbUser", "SecretArn")}
            session = Session(
                id=str(uuid.uuid4()),
                principal=context.principal,
                owner=_owner(context),
                database=params.get("Database") or DEFAULT_DATABASE,
                login=self.auth.login_for(params, context),
                request={k: v for k, v in target.items() if v is not None}
                | {"Database": params.get("Database") or DEFAULT_DATABASE},
                created_at=now,
                updated_at=now,
                keep_alive=keep_alive,
            )
            self._sessions[session.id] = session
        else:
            return None
        if keep_alive is not None:
            session.keep_alive = keep_alive
        session.current_statement = statement_id
        session.expires_at = None
        session.updated_at = now
        return session

    def _statement_done(self, stmt: Statement) -> None:
        now = self.clock.now()
        closing: Session | None = None
        with self._lock:
            self._active -= 1
            session = self._sessions.get(stmt.session_id) if stmt.session_id else None
            if session is not None and session.current_statement == stmt.id:
                session.current_statement = None
                session.updated_at = now
                session.expires_at = now + timedelta(seconds=session.keep_alive)
                if session.keep_alive == 0:
                    session.closed = True
                    closing = session
        if closing is not None:
            closing.close()
        self._maybe_emit(stmt)

    def _lookup(
        self, statement_id: str, context: RequestContext, operation: str
    ) -> tuple[Statement, SubStatement | None]:
        """The caller's statement, after IAM's check of `operation` with the statement's owner.

        A statement is visible to every session of the IAM role that ran it (the administrator:
        its access key); `redshift-data:statement-owner-iam-userid` is the `aws:userid` of the
        session that ran it ("Actions, resources, and condition keys for Amazon Redshift Data
        API", condition keys, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html).
        """
        parent_id, _, index = statement_id.partition(":")
        with self._lock:
            stmt = self._statements.get(parent_id)
        ttl = timedelta(seconds=self.limits.result_ttl_seconds)
        visible = (
            stmt is not None and stmt.owner == _owner(context) and not _expired(stmt, self.clock.now(), ttl)
        )
        keys = {STATEMENT_OWNER_KEY: stmt.principal} if visible and stmt is not None else None
        context.authorize(_STATEMENT_ACTIONS[operation], "*", keys)
        if stmt is None or not visible:
            raise ResourceNotFoundException(f"Query {statement_id} does not exist.")
        if not index:
            return stmt, None
        if not stmt.is_batch or not index.isdigit() or not 1 <= int(index) <= len(stmt.subs):
            raise ResourceNotFoundException(f"Query {statement_id} does not exist.")
        return stmt, stmt.subs[int(index) - 1]

    def _result_of(
        self, params: dict[str, Any], context: RequestContext, result_format: str, operation: str
    ) -> SubStatement:
        stmt, sub = self._lookup(params["Id"], context, operation)
        if sub is None:
            if stmt.is_batch:
                raise ValidationException(
                    "BatchExecuteStatement result can only be retrieved with sub-statement id."
                )
            sub = stmt.subs[0]
        self._wait(stmt, params.get("WaitTimeSeconds"))
        stored_format = stmt.request.get("ResultFormat") or "JSON"
        if stored_format != result_format:
            operation = "GetStatementResultV2" if stored_format == "CSV" else "GetStatementResult"
            raise ValidationException(
                f"The statement's ResultFormat is {stored_format}; retrieve its result with {operation}."
            )
        if stmt.shown_status(self.clock.now()) != Status.FINISHED or sub.result is None:
            raise ResourceNotFoundException(NO_RESULT)
        return sub

    def _wait(self, stmt: Statement, seconds: int | None) -> None:
        """Hold the request until the statement ends as callers see it, or `seconds` pass."""
        if not seconds:
            return
        clock = self.clock
        deadline = clock.monotonic() + seconds
        while True:
            now = clock.now()
            remaining = deadline - clock.monotonic()
            if stmt.shown_status(now).final or remaining <= 0:
                return
            end = stmt.simulated_end
            if stmt.work_done.is_set() and end is not None and now < end:
                # Only the simulated duration is left: a VirtualClock jumps toward its end.
                clock.sleep(min(remaining, (end - now).total_seconds()))
            elif stmt.work_done.is_set():
                clock.wait(stmt.done, remaining)
            else:
                clock.wait(stmt.work_done, remaining)

    def _abort_simulated(self, stmt: Statement) -> None:
        """Cancel a statement whose real work is over but whose simulated duration still runs."""
        now = self.clock.now()
        with stmt.lock:
            if stmt.fault is not None:
                stmt.fault = dataclasses.replace(stmt.fault, duration=None)
            stmt.status = Status.ABORTED
            stmt.error = "Query cancelled on user's request"
            stmt.finished_at = now
            stmt.updated_at = now
            for sub in stmt.subs:
                sub.status = Status.ABORTED
                sub.drop_result()

    def _maybe_emit(self, stmt: Statement) -> None:
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
            expire_at=end + timedelta(seconds=self.limits.result_ttl_seconds),
        )
        try:
            self.event_sink(entry)
        except Exception:
            logger.exception("event sink failed for statement %s", stmt.id)

    def _with_catalog(
        self, params: dict[str, Any], context: RequestContext, read: Callable[[psycopg.Connection[Any]], T]
    ) -> T:
        database = params.get("Database") or DEFAULT_DATABASE
        with self._catalog_connection(database, self.auth.login_for(params, context)) as conn:
            return read(conn)

    @contextmanager
    def _catalog_connection(self, database: str, login: DatabaseLogin) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = self._pool.acquire(database, login)
        except psycopg.Error as error:
            raise DatabaseConnectionException(error_text(error)) from None
        except LoginError as error:
            raise DatabaseConnectionException(str(error)) from None
        try:
            yield conn
        finally:
            self._pool.release(database, login, conn, dirty=False)


def _clear_results(results_dir: Path) -> None:
    """Delete the result files of statements a previous service ran: none of them survives it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    for path in results_dir.iterdir():
        if path.is_file():
            path.unlink(missing_ok=True)


def _check_target(params: dict[str, Any]) -> None:
    """Exactly one of ClusterIdentifier and WorkgroupName, as AWS requires."""
    has_cluster = bool(params.get("ClusterIdentifier"))
    has_workgroup = bool(params.get("WorkgroupName"))
    if has_cluster == has_workgroup:
        raise ValidationException(
            "Either ClusterIdentifier or WorkgroupName must be provided, but not both."
            if not has_cluster
            else "ClusterIdentifier and WorkgroupName cannot be specified together; provide only one."
        )


def _owner(context: RequestContext) -> str:
    """Whose statements a caller sees: its IAM role's (any session of it), or its own access key's."""
    return f"role/{context.role_name}" if context.role_name else context.principal


def _caller_arn(context: RequestContext) -> str:
    if context.role_name:
        session = context.principal.partition(":")[2]
        return f"arn:aws:sts::{context.account_id}:assumed-role/{context.role_name}/{session}"
    return f"arn:aws:iam::{context.account_id}:user/{context.principal}"


def local_workgroup_id(name: str) -> str:
    """A stable UUID for a local workgroup known only by name (AWS assigns one at creation)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rsetl-local:redshift-serverless:workgroup/{name}"))


def _expired(stmt: Statement, now: datetime, ttl: timedelta) -> bool:
    end = stmt.shown_end()
    return end is not None and now >= end + ttl


def _overdue(stmt: Statement, now: datetime, limits: Limits) -> bool:
    started = stmt.started_at
    return (
        not stmt.done.is_set()
        and started is not None
        and now - started >= timedelta(seconds=limits.max_statement_seconds)
    )


def _session_due(session: Session, now: datetime) -> bool:
    return not session.closed and session.expires_at is not None and now >= session.expires_at


def _paginate(items: list[T], params: dict[str, Any], default_size: int) -> tuple[list[T], str | None]:
    """One page of `items` by offset; NextToken carries the offset of the next page."""
    size = params.get("MaxResults") or default_size
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise ValidationException("The NextToken is not valid.") from None
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following
