"""Smoke-test a deployed rsetl stack: one small sales file in, its rows and ledger row checked, then removed.

Reads the stack's outputs and parameters (DescribeStacks), uploads a few lines of the first sample sales
file under ``sales/smoke/<run id>.csv`` with order ids of their own (``SMOKE-<run id>-<n>``, so no real
row is replaced), waits for the ``ingest_sales`` execution of that key, checks through the Data API that
``sales.fact_sales`` holds exactly those lines and ``etl.load_ledger`` a LOADED row for the file, prints
a report, and deletes the rows, the ledger row and the object again.

Run against AWS with your usual credentials::

    python scripts/smoke_test.py --stack rsetl [--region eu-west-1]

or against ``rsetl local up`` (credentials ``test``/``test``)::

    python scripts/smoke_test.py --stack rsetl --endpoint-url http://127.0.0.1:4566

The Data API runs as you (your IAM identity, or ``--db-user`` / ``--secret-arn``, by default the stack's):
that database user needs SELECT and DELETE on ``sales.fact_sales`` and ``etl.load_ledger``.
Exit status: 0 when every check holds, 1 when one fails, 2 on bad arguments or a stack it cannot read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_MANIFEST = REPO / "sample_data" / "manifest.json"
TERMINAL = ("FINISHED", "FAILED", "ABORTED")


@dataclass
class Report:
    """What the smoke test checked, in order."""

    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)


class Stack:
    """The deployed stack's outputs and parameters, and clients of its region (or of a local endpoint)."""

    def __init__(self, name: str, region: str | None, endpoint_url: str | None) -> None:
        session = boto3.session.Session(region_name=region)
        self._client: Callable[[Any], Any] = lambda service: session.client(
            service, endpoint_url=endpoint_url
        )
        (described,) = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        self.status = str(described["StackStatus"])
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        self.parameters = {
            p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
        }

    def client(self, service: str) -> Any:
        return self._client(service)


class DataApi:
    """Runs SQL with Data API parameters against the stack's cluster or workgroup and waits for it."""

    def __init__(
        self, stack: Stack, db_user: str | None, secret_arn: str | None, poll_seconds: float
    ) -> None:
        params = stack.parameters
        self._client = stack.client("redshift-data")
        self._poll = poll_seconds
        target: dict[str, str] = {"Database": params.get("Database") or "dev"}
        if params.get("ClusterIdentifier"):
            target["ClusterIdentifier"] = params["ClusterIdentifier"]
            user, secret = db_user or params.get("DbUser"), secret_arn or params.get("SecretArn")
            target.update({"DbUser": user} if user else {"SecretArn": secret} if secret else {})
        else:
            target["WorkgroupName"] = params.get("WorkgroupName") or "default-workgroup"
            secret = secret_arn or params.get("SecretArn")
            target.update({"SecretArn": secret} if secret else {})
        self._target = target

    def rows(self, sql: str, **values: str) -> list[list[Any]]:
        """The result rows of `sql` (`:name` parameters from `values`); raises when the statement fails."""
        request: dict[str, Any] = {**self._target, "Sql": sql}
        if values:
            request["Parameters"] = [{"name": k, "value": v} for k, v in values.items()]
        statement_id = self._client.execute_statement(**request)["Id"]
        while (described := self._client.describe_statement(Id=statement_id))["Status"] not in TERMINAL:
            time.sleep(self._poll)
        if described["Status"] != "FINISHED":
            raise RuntimeError(f"{sql.split()[0]} {described['Status']}: {described.get('Error', '')}")
        if not described.get("HasResultSet"):
            return []
        pages = self._client.get_paginator("get_statement_result").paginate(Id=statement_id)
        return [[next(iter(f.values())) for f in record] for page in pages for record in page["Records"]]


def smoke_file(run_id: str, lines: int) -> bytes:
    """The first `lines` lines of the first sample sales file, renumbered as orders of this run."""
    manifest = json.loads(SAMPLE_MANIFEST.read_text())
    source = REPO / "sample_data" / manifest["sales"]["files"][0]["key"]
    reader = csv.reader(io.StringIO(source.read_text()))
    header = next(reader)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for number, row in enumerate(reader, start=1):
        if number > lines:
            break
        record = dict(zip(header, row, strict=True))
        record.update(order_id=f"SMOKE-{run_id}-{number:05d}", line_number="1")
        writer.writerow([record[column] for column in header])
    return out.getvalue().encode()


def find_execution(sfn: Any, machine_arn: str, key: str) -> dict[str, Any] | None:
    """The newest execution of `machine_arn` whose input names the landing object `key`."""
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=machine_arn, PaginationConfig={"MaxItems": 100}
    )
    for page in pages:
        for summary in page["executions"]:
            described = sfn.describe_execution(executionArn=summary["executionArn"])
            parameters = json.loads(described.get("input") or "{}").get("parameters") or {}
            if parameters.get("object_key") == key:
                return dict(described)
    return None


def wait_for_execution(
    sfn: Any, machine_arn: str, key: str, timeout: float, poll_seconds: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = find_execution(sfn, machine_arn, key)
        if execution is not None and execution["status"] != "RUNNING":
            return execution
        time.sleep(poll_seconds)
    return find_execution(sfn, machine_arn, key)


def run(args: argparse.Namespace) -> int:
    try:
        stack = Stack(args.stack, args.region, args.endpoint_url)
    except (BotoCoreError, ClientError) as error:
        print(f"smoke_test: cannot read stack {args.stack}: {error}", file=sys.stderr)
        return 2
    report = Report()
    missing = [k for k in ("LandingBucketName", "RunPipelineStateMachineArn") if k not in stack.outputs]
    if not report.check("stack outputs", not missing and stack.status.endswith("_COMPLETE"), stack.status):
        return 1
    bucket, machine_arn = stack.outputs["LandingBucketName"], stack.outputs["RunPipelineStateMachineArn"]
    run_id = uuid.uuid4().hex[:8]
    key = f"sales/smoke/{run_id}.csv"
    source_key = f"s3://{bucket}/{key}"
    s3, sfn = stack.client("s3"), stack.client("stepfunctions")
    data = DataApi(stack, args.db_user, args.secret_arn, args.poll_seconds)
    s3.put_object(Bucket=bucket, Key=key, Body=smoke_file(run_id, args.rows))
    print(f"uploaded {source_key} ({args.rows} lines)", flush=True)
    try:
        execution = wait_for_execution(sfn, machine_arn, key, args.timeout, args.poll_seconds)
        status = execution["status"] if execution else "not started"
        detail = (
            f"{execution['name']}: {status}"
            if execution
            else f"no execution for {key} within {args.timeout} s"
        )
        if execution and status != "SUCCEEDED":
            detail += f" ({execution.get('error', '')}: {execution.get('cause', '')})"
        report.check("ingest_sales execution", status == "SUCCEEDED", detail)
        ((loaded,),) = data.rows(
            "SELECT COUNT(*) FROM sales.fact_sales WHERE source_key = :source_key", source_key=source_key
        )
        report.check("rows in sales.fact_sales", int(loaded) == args.rows, f"{loaded} of {args.rows}")
        ledger = data.rows(
            "SELECT status, rows_loaded FROM etl.load_ledger"
            " WHERE bucket = :bucket AND object_key = :object_key",
            bucket=bucket,
            object_key=key,
        )
        report.check(
            "ledger row", [[str(s), int(n)] for s, n in ledger] == [["LOADED", args.rows]], str(ledger)
        )
    finally:
        if not args.keep:
            clean_up(s3, data, bucket, key, source_key)
    print("smoke test passed" if report.ok else "smoke test FAILED", flush=True)
    return 0 if report.ok else 1


def clean_up(s3: Any, data: DataApi, bucket: str, key: str, source_key: str) -> None:
    """Remove what the smoke test put in: its rows, its ledger rows, its object (the views refresh later)."""
    data.rows("DELETE FROM sales.fact_sales WHERE source_key = :source_key", source_key=source_key)
    data.rows(
        "DELETE FROM etl.load_ledger WHERE bucket = :bucket AND object_key = :object_key",
        bucket=bucket,
        object_key=key,
    )
    s3.delete_object(Bucket=bucket, Key=key)
    print(f"cleaned up {source_key}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="CloudFormation stack name")
    parser.add_argument("--region", help="the stack's region (default: your configured one)")
    parser.add_argument("--endpoint-url", help="one endpoint for every service (e.g. rsetl local up's)")
    parser.add_argument("--rows", type=int, default=5, help="sales lines to load (default 5)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the run")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="seconds between checks")
    parser.add_argument("--db-user", help="Data API DbUser (provisioned; default: the stack's DbUser)")
    parser.add_argument("--secret-arn", help="Data API SecretArn (default: the stack's SecretArn)")
    parser.add_argument("--keep", action="store_true", help="leave the rows, ledger row and object in place")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.rows <= 1000:
        print("smoke_test: --rows must be between 1 and 1000", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
