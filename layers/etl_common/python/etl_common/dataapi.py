"""Redshift Data API calls with the product's conventions: idempotent submits, long polls,
Data API errors raised under their own names, and compact statement summaries."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import data_api_error
from .polling import ABORTED, FAILED, FINISHED, RUNNING_STATUSES
from .target import RedshiftTarget

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient

MAX_STATEMENT_NAME = 2048
_TOO_MANY_WAITING = "ActiveWaitingRequestsExceededException"


def client_token(execution_arn: str, step: str, redrive_count: int, attempt: int = 1) -> str:
    """Idempotency token of one submission of one step of one run of an execution (64 hex characters).

    A retried call of one submission (Lambda or Data API errors) sends the same token and gets
    the statement that call started instead of running the SQL again. A resubmission after a
    serialization failure (``attempt`` 2, 3, ...) needs a new one, since the Data API answers a
    known token with the failed statement; so does a redriven execution (its ``RedriveCount``),
    which runs its failed step anew instead of getting the failed statement back.
    """
    text = f"{execution_arn}\n{step}\n{redrive_count}" + (f"\n{attempt}" if attempt > 1 else "")
    return hashlib.sha256(text.encode()).hexdigest()


def statement_name(execution_name: str, step: str) -> str:
    """The ``StatementName`` of a step: execution name and step, as ListStatements shows them."""
    return f"{execution_name}.{step}"[:MAX_STATEMENT_NAME]


def sql_parameters(names: Sequence[str], values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Data API ``Parameters`` for ``names`` (values are sent as text)."""
    return [{"name": name, "value": str(values[name])} for name in names]


def submit(
    client: RedshiftDataAPIServiceClient,
    target: RedshiftTarget,
    sqls: Sequence[str],
    parameters: Sequence[Mapping[str, str]],
    *,
    name: str,
    token: str,
    mode: str = "TRANSACTION",
    wait_seconds: int | None = None,
) -> dict[str, Any]:
    """Run ``sqls`` (one statement, or a batch of several in ``mode``) and return the response.

    With ``wait_seconds`` the call long-polls until the statement ends or the time passes;
    if the Data API has too many waiting requests, the submit is repeated without waiting
    (the same client token makes that safe).
    """
    request: dict[str, Any] = {**target.request_args(), "StatementName": name, "ClientToken": token}
    if parameters:
        request["Parameters"] = list(parameters)
    call: Callable[..., Mapping[str, Any]]
    if len(sqls) == 1:
        operation, call = "ExecuteStatement", client.execute_statement
        request["Sql"] = sqls[0]
    else:
        operation, call = "BatchExecuteStatement", client.batch_execute_statement
        request["Sqls"] = list(sqls)
        request["ExecutionMode"] = mode
    try:
        try:
            waiting = {**request, "WaitTimeSeconds": wait_seconds} if wait_seconds else request
            return dict(call(**waiting))
        except ClientError as err:
            if wait_seconds and data_api_error(operation, err).code == _TOO_MANY_WAITING:
                return dict(call(**request))
            raise
    except ClientError as err:
        raise data_api_error(operation, err) from err


def describe(
    client: RedshiftDataAPIServiceClient, statement_id: str, wait_seconds: int | None = None
) -> dict[str, Any]:
    """DescribeStatement, long-polling up to ``wait_seconds`` when given."""
    try:
        if wait_seconds:
            try:
                return dict(client.describe_statement(Id=statement_id, WaitTimeSeconds=wait_seconds))
            except ClientError as err:
                if data_api_error("DescribeStatement", err).code != _TOO_MANY_WAITING:
                    raise
        return dict(client.describe_statement(Id=statement_id))
    except ClientError as err:
        raise data_api_error("DescribeStatement", err) from err


def cancel(client: RedshiftDataAPIServiceClient, statement_id: str) -> bool:
    """CancelStatement; ``False`` when the statement had already ended (nothing to cancel)."""
    try:
        return bool(client.cancel_statement(Id=statement_id).get("Status", False))
    except ClientError as err:
        error = data_api_error("CancelStatement", err)
        if error.code == "ValidationException":
            return False
        raise error from err


def fetch_rows(
    client: RedshiftDataAPIServiceClient, statement_id: str, limit: int
) -> tuple[list[str], list[list[Any]]]:
    """Column names and up to ``limit`` rows of a statement's result, across result pages."""
    columns: list[str] = []
    rows: list[list[Any]] = []
    pages = client.get_paginator("get_statement_result").paginate(
        Id=statement_id, PaginationConfig={"MaxItems": limit}
    )
    try:
        for page in pages:
            columns = columns or [str(c.get("name", "?")) for c in page.get("ColumnMetadata", [])]
            rows.extend([_field_value(field) for field in record] for record in page.get("Records", []))
    except ClientError as err:
        raise data_api_error("GetStatementResult", err) from err
    return columns, rows[:limit]


def _field_value(field: Mapping[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if key in field:
            return field[key]
    return None


def statement_error(description: Mapping[str, Any]) -> str | None:
    """The database error of a described statement; for a batch, names the failing sub-statement."""
    if description.get("Error"):
        return str(description["Error"])
    for index, sub in enumerate(description.get("SubStatements") or [], start=1):
        if sub.get("Error"):
            return f"sub-statement {index}: {sub['Error']}"
    return None


def is_running(status: str) -> bool:
    """Whether a statement in ``status`` may still change (any unknown status is not running)."""
    return status in RUNNING_STATUSES


def is_known_status(status: str) -> bool:
    """Whether ``status`` is one the Data API documents for statements."""
    return status in (*RUNNING_STATUSES, FINISHED, FAILED, ABORTED)
