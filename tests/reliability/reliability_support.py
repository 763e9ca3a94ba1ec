"""Helpers of the reliability tests: clients, uploads, and what a run left behind (rows, ledger, events)."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from rsetl.redshift_data.statements import Statement
from rsetl.runtime import LocalRuntime
from rsetl.stepfunctions.interpreter import Execution

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:rsetl-reliability-s3cr3t-Xy9Z1q"
SECRET_USER = "rsetl_etl"
"""The database user the secret holds: the pipelines run as this user, not as the admin."""
"""A secret ARN set through parameter overrides: it must never appear in a function's log."""

HEADER = (
    "order_id,line_number,order_ts,store_id,product_sku,customer_id,quantity,unit_price,discount,currency"
)


def clear_faults(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None and runtime.lambdas is not None
    runtime.redshift_data.faults.clear()
    runtime.redshift_data.limits.requests_per_second.clear()
    runtime.lambdas.faults.clear()
    runtime.events.dispatcher.faults.clear()


def aws_client(runtime: LocalRuntime, service: str, secret: str = "test") -> Any:
    """A boto3 client of the running runtime (documented local credentials unless told)."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=runtime.url,
        region_name=runtime.template.region,
        aws_access_key_id="test",
        aws_secret_access_key=secret,
    )


def landing_bucket(runtime: LocalRuntime) -> str:
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    return str(bucket.ref)


def settle(runtime: LocalRuntime, timeout: float = 300) -> None:
    """Wait until no delivery, execution or asynchronous invocation is under way."""
    assert runtime.settle(timeout), f"the local runtime did not settle within {timeout:.0f} s"


def sales_csv(tag: str, rows: int, *, bad_rows: int = 0) -> bytes:
    """A sales_lines file whose order ids are unique to `tag`; `bad_rows` of them have a negative quantity."""
    lines = [HEADER]
    prefix = md5(tag.encode())[:12]
    for n in range(rows):
        quantity = -1 if n < bad_rows else 1 + n % 3
        lines.append(
            f"{prefix}-{n:06d},1,2026-11-06 10:00:00,ST001,SKU-100001,C0000001,{quantity},2.50,0.00,USD"
        )
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    etag: str


def upload(runtime: LocalRuntime, key: str, body: bytes) -> Upload:
    """Put an object in the landing bucket (its "Object Created" event starts the ingest)."""
    bucket = landing_bucket(runtime)
    response = aws_client(runtime, "s3").put_object(Bucket=bucket, Key=key, Body=body)
    return Upload(bucket, key, response["ETag"].strip('"'))


def upload_concurrently(runtime: LocalRuntime, bodies: dict[str, bytes]) -> None:
    """Upload every key at once, one thread each, as a burst of producers would."""
    threads = [threading.Thread(target=upload, args=(runtime, key, body)) for key, body in bodies.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_pipeline_arn(runtime: LocalRuntime) -> str:
    """The RunPipeline state machine's ARN (the target of every trigger rule)."""
    return str(runtime.template.resources["RunPipelineStateMachine"].arn)


def md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def query(runtime: LocalRuntime, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    assert runtime.postgres is not None
    with runtime.postgres.connect() as conn:
        return list(conn.execute(sql, params).fetchall())


def scalar(runtime: LocalRuntime, sql: str, *params: Any) -> Any:
    return query(runtime, sql, *params)[0][0]


def fact_rows(runtime: LocalRuntime, key: str) -> int:
    """Rows of `sales.fact_sales` loaded from one object key of the landing bucket."""
    return int(
        scalar(
            runtime, "SELECT count(*) FROM sales.fact_sales WHERE source_key = %s", source_key(runtime, key)
        )
    )


def source_key(runtime: LocalRuntime, key: str) -> str:
    """How `sales.fact_sales.source_key` names an object of the landing bucket."""
    return f"s3://{landing_bucket(runtime)}/{key}"


def distinct_fact_keys(runtime: LocalRuntime, key: str) -> int:
    return int(
        scalar(
            runtime,
            "SELECT count(DISTINCT (order_id, line_number)) FROM sales.fact_sales WHERE source_key = %s",
            source_key(runtime, key),
        )
    )


def ledger(runtime: LocalRuntime, key: str) -> list[tuple[str, int | None]]:
    """(status, rows_loaded) of every ledger row of one object key."""
    return [
        (str(status), rows)
        for status, rows in query(
            runtime,
            "SELECT status, rows_loaded FROM etl.load_ledger WHERE object_key = %s ORDER BY recorded_at",
            key,
        )
    ]


def executions_for(runtime: LocalRuntime, key: str) -> list[Execution]:
    """Executions whose input names this object key."""
    found = []
    for execution in list(runtime.stepfunctions.executions.values()):
        parameters = execution.input.get("parameters") if isinstance(execution.input, dict) else None
        if isinstance(parameters, dict) and parameters.get("object_key") == key:
            found.append(execution)
    return found


def pipeline_events(runtime: LocalRuntime, detail_type: str, key: str | None = None) -> list[dict[str, Any]]:
    """Completion events the product emitted, optionally only those of runs on one object key."""
    found = []
    for record in runtime.events.events():
        event = record.event
        if event.get("source") != "rsetl.pipeline" or event.get("detail-type") != detail_type:
            continue
        detail = event["detail"]
        if key is None or (detail.get("parameters") or {}).get("object_key") == key:
            found.append(detail)
    return found


def history_errors(execution: Execution) -> list[str]:
    """Error names of the failed Lambda tasks in an execution's history (each retried or caught)."""
    errors = []
    for event in execution.history.events:
        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
        if details:
            errors.append(str(details.get("error")))
    return errors


def states_entered(execution: Execution) -> list[str]:
    """Names of the states an execution entered, in order."""
    entered = (event.get("stateEnteredEventDetails") for event in execution.history.events)
    return [str(details["name"]) for details in entered if details]


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def function_name(runtime: LocalRuntime, logical_id: str) -> str:
    """The deployed (local) name of a function of the template."""
    (function,) = [f for f in runtime.template.of_type("AWS::Lambda::Function") if f.logical_id == logical_id]
    return str(function.ref)


def statements_for(runtime: LocalRuntime, key: str) -> list[Statement]:
    """Data API statements whose SQL text names this object key (the load's COPY)."""
    assert runtime.redshift_data is not None
    return [s for s in runtime.redshift_data.statements() if any(key in sub.sql for sub in s.subs)]
