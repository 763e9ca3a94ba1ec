"""The local Redshift Data API's wire layer: every operation of botocore's `redshift-data` model,
checked and answered here; the statements, sessions and tokens live in its backend (`backend.py`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Unpack

import psycopg

from rsetl import paging
from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, DropConnection, JsonService, RequestContext
from rsetl.awsproto.errors import wire_error
from rsetl.clock import Clock
from rsetl.redshift_data import catalog
from rsetl.redshift_data.backend import BackendOptions, RedshiftDataBackend
from rsetl.redshift_data.config import Faults, Limits, RateLimiter
from rsetl.redshift_data.connections import ConnInfo
from rsetl.redshift_data.exceptions import ResourceNotFoundException, ThrottlingException, ValidationException
from rsetl.redshift_data.iam import (
    STATEMENT_ACTIONS,
    STATEMENT_OWNER_KEY,
    TARGETED,
    authorize_credentials,
    local_workgroup_id,
    target_arn,
)
from rsetl.redshift_data.results import NO_RESULT
from rsetl.redshift_data.runner import SqlRunner
from rsetl.redshift_data.statements import DEFAULT_DATABASE, Statement, Status, SubStatement
from rsetl.redshift_data.users import DatabaseAuth, DatabaseUsers

T = TypeVar("T")

_READS_AT_ONCE = ("GetStatementResult", "GetStatementResultV2")
_STATEMENT_FILTERS = ("Database", "ClusterIdentifier", "WorkgroupName")


class RedshiftDataService(JsonService):
    """The Data API's operations over a `RedshiftDataBackend` (its arguments are the backend's).

    Injected faults, delays and rate limits (`limits.requests_per_second`) apply here, before an
    operation runs. `workgroup_ids` maps a workgroup name to the ID its ARN ends in. The
    properties below reach the backend's state, for the runtime, tools and tests.
    """

    service_name = "redshift-data"

    def __init__(
        self,
        conninfo: ConnInfo,
        runner: SqlRunner,
        *,
        workgroup_ids: Mapping[str, str] | None = None,
        **options: Unpack[BackendOptions],
    ) -> None:
        self.backend = RedshiftDataBackend(conninfo, runner, **options)
        self.workgroup_ids = dict(workgroup_ids or {})
        """Workgroup name -> ID: a Serverless workgroup's ARN ends in its ID, not its name."""
        self._rates = RateLimiter(self.clock)

    @property
    def clock(self) -> Clock:
        return self.backend.clock

    @property
    def limits(self) -> Limits:
        return self.backend.limits

    @property
    def faults(self) -> Faults:
        return self.backend.faults

    @property
    def auth(self) -> DatabaseAuth:
        return self.backend.auth

    @property
    def users(self) -> DatabaseUsers:
        return self.backend.users

    @property
    def results_dir(self) -> Path:
        return self.backend.results_dir

    @property
    def statement_count(self) -> int:
        return self.backend.statement_count

    def statements(self) -> list[Statement]:
        return self.backend.statements()

    def sweep(self) -> int:
        return self.backend.sweep()

    def stop_statements(self, grace_seconds: float) -> tuple[int, int]:
        return self.backend.stop_statements(grace_seconds)

    def close_idle_connections(self) -> None:
        self.backend.close_idle_connections()

    def close(self) -> None:
        self.backend.close()

    # -- protocol ----------------------------------------------------------------------------

    def answers_at_once(self, request: AwsRequest) -> bool:
        """A GetStatementResult(V2) page held in memory, with no WaitTimeSeconds and no fault on the
        operation: read from memory, so the server answers it on its event loop."""
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        if operation not in _READS_AT_ONCE or self.faults.injects(operation):
            return False
        try:
            params = json.loads(request.body)
            statement_id = str(params["Id"]).partition(":")[0]
        except (ValueError, TypeError, KeyError):
            return False  # the pool answers it with the wire's own error
        return not params.get("WaitTimeSeconds") and self.backend.results_in_memory(statement_id)

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
            return self.error_response(wire_error(ThrottlingException("Rate exceeded")), context)
        response = super().handle(request, context)
        if drop:
            raise DropConnection(operation)
        return response

    # -- IAM -----------------------------------------------------------------------------------

    def operation_resources(
        self, operation: str, params: dict[str, Any], context: RequestContext
    ) -> list[str]:
        """The cluster or workgroup for submits and metadata; none for statement operations,
        which :meth:`_lookup` checks with the statement's owner (Service Authorization Reference,
        "Actions, resources, and condition keys for Amazon Redshift Data API",
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html)."""
        if operation in STATEMENT_ACTIONS:
            return []
        if operation not in TARGETED:
            return ["*"]
        target = params
        if params.get("SessionId"):
            session = self.backend.session(str(params["SessionId"]))
            target = session.request if session is not None else params
        if not (target.get("ClusterIdentifier") or target.get("WorkgroupName")):
            return ["*"]
        return [self._target_arn(target, context)]

    def authorize_operation(self, operation: str, params: dict[str, Any], context: RequestContext) -> None:
        """The operation on its resource first, then the database sign-in a new connection needs."""
        super().authorize_operation(operation, params, context)
        targeted = params.get("ClusterIdentifier") or params.get("WorkgroupName")
        if operation in TARGETED and targeted and not params.get("SessionId"):
            authorize_credentials(params, context, self.workgroup_id)

    def workgroup_id(self, name: str) -> str:
        """The ID of a local workgroup: as configured, else derived from its name (stable)."""
        return self.workgroup_ids.get(name) or local_workgroup_id(name)

    def _target_arn(self, request: Mapping[str, Any], context: RequestContext) -> str:
        return target_arn(request, context, self.workgroup_id)

    def execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return self._submit(params, context, [params["Sql"]], is_batch=False)

    def batch_execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return self._submit(params, context, list(params["Sqls"]), is_batch=True)

    def describe_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        stmt, sub = self._lookup(params["Id"], context, "DescribeStatement")
        stmt.wait(self.clock, params.get("WaitTimeSeconds"))
        self.backend.emit(stmt)
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
        return {"Status": self.backend.cancel(stmt)}

    def list_statements(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        now = self.clock.now()
        prefix = params.get("StatementName")
        status = params.get("Status", "ALL")
        mine = self.backend.visible_statements(context)
        if params.get("RoleLevel") is False:
            # RoleLevel false: only the statements of the caller's own IAM session.
            mine = [s for s in mine if s.principal == context.principal]
        selected = [
            stmt
            for stmt in mine
            if (not prefix or str(stmt.request.get("StatementName") or "").startswith(prefix))
            and (status == "ALL" or stmt.shown_status(now) == status)
            and all(params.get(name) in (None, stmt.request.get(name)) for name in _STATEMENT_FILTERS)
        ]
        page, following = _paginate(selected, params, default_size=100)
        return {"Statements": [stmt.summary(now) for stmt in page], "NextToken": following}

    def list_sessions(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        wanted = {params["Status"]} if params.get("Status") else {"AVAILABLE", "BUSY"}
        infos = [
            info
            for info in self.backend.session_infos(context)
            if params.get("SessionId") in (None, info["SessionId"])
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
        stmt = self.backend.submit(params, context, sqls, is_batch, lambda r: self._target_arn(r, context))
        stmt.wait(self.clock, params.get("WaitTimeSeconds"))
        self.backend.emit(stmt)
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
        stmt = self.backend.find(parent_id, context)
        keys = {STATEMENT_OWNER_KEY: stmt.principal} if stmt is not None else None
        context.authorize(STATEMENT_ACTIONS[operation], "*", keys)
        if stmt is None:
            raise ResourceNotFoundException(f"Query {statement_id} does not exist.", statement_id)
        if not index:
            return stmt, None
        if not stmt.is_batch or not index.isdigit() or not 1 <= int(index) <= len(stmt.subs):
            raise ResourceNotFoundException(f"Query {statement_id} does not exist.", statement_id)
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
        stmt.wait(self.clock, params.get("WaitTimeSeconds"))
        stored_format = stmt.request.get("ResultFormat") or "JSON"
        if stored_format != result_format:
            operation = "GetStatementResultV2" if stored_format == "CSV" else "GetStatementResult"
            raise ValidationException(
                f"The statement's ResultFormat is {stored_format}; retrieve its result with {operation}."
            )
        if stmt.shown_status(self.clock.now()) != Status.FINISHED or sub.result is None:
            raise ResourceNotFoundException(NO_RESULT, str(params["Id"]))
        return sub

    def _with_catalog(
        self, params: dict[str, Any], context: RequestContext, read: Callable[[psycopg.Connection[Any]], T]
    ) -> T:
        database = params.get("Database") or DEFAULT_DATABASE
        with self.backend.catalog_connection(database, self.auth.login_for(params, context)) as conn:
            return read(conn)


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


def _paginate(items: list[T], params: dict[str, Any], default_size: int) -> tuple[list[T], str | None]:
    """One page by NextToken / MaxResults."""
    size = params.get("MaxResults") or default_size
    return paging.page(
        items, params.get("NextToken"), size, lambda _: ValidationException("The NextToken is not valid.")
    )
