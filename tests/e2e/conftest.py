"""A running local runtime of this repository's template, on a virtual clock, shared by the e2e tests."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from rsetl.clock import VirtualClock
from rsetl.eventbridge.entries import PutEventRecord
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL
from rsetl.runtime import LocalRuntime, RuntimeOptions
from rsetl.stepfunctions.interpreter import Execution

ISOLATION_LEVEL = os.environ.get("RSETL_ISOLATION_LEVEL", DEFAULT_ISOLATION_LEVEL)
"""The dev database's isolation level for the whole run: `RSETL_ISOLATION_LEVEL=SERIALIZABLE pytest ...`
runs the suite under Redshift's other level."""

PROJECT_DIR = Path(__file__).resolve().parents[2]
SAMPLE_DIR = PROJECT_DIR / "sample_data"

SALES_COLUMNS = (
    "order_id", "line_number", "order_ts", "store_id", "product_sku", "customer_id",
    "quantity", "unit_price", "discount", "currency",
)  # fmt: skip
"""The `staging.sales_lines` file layout (sql/003_staging_tables.sql)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `own_runtime` run after the others: moto's backends are process-wide, and a second
    runtime's SQS resets them and points their clock at its own, which the session runtime then reads."""
    items.sort(key=lambda item: item.get_closest_marker("own_runtime") is not None)


@pytest.fixture(scope="session")
def runtime() -> Iterator[LocalRuntime]:
    """One runtime for the session (PostgreSQL start-up and sql/ take seconds)."""
    # Not under pytest's basetemp: concurrent pytest sessions prune each other's numbered temp dirs.
    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-e2e-"))
    clock = VirtualClock(datetime(2026, 11, 6, 22, 0, tzinfo=UTC))
    options = RuntimeOptions(
        project_dir=PROJECT_DIR, state_dir=state_dir, clock=clock, isolation_level=ISOLATION_LEVEL
    )
    local = LocalRuntime(options)
    local.start()
    try:
        yield local
    finally:
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def aws_client(runtime: LocalRuntime, service: str) -> Any:
    """A boto3 client of the running runtime, with the documented local credentials."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=runtime.url,
        region_name=runtime.template.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def client_as_function(runtime: LocalRuntime, function_logical_id: str, service: str) -> Any:
    """A boto3 client signed with the role session of one function (its execution role)."""
    function = runtime.template.resources[function_logical_id]
    caller = runtime.function_caller(function.ref)
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=runtime.url,
        region_name=runtime.template.region,
        aws_access_key_id=caller.access_key,
        aws_secret_access_key=caller.secret_key,
    )


def landing_bucket(runtime: LocalRuntime) -> str:
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    return bucket.ref


def settle(runtime: LocalRuntime) -> None:
    """Wait until no delivery, execution or asynchronous invocation is under way."""
    assert runtime.settle(300), "the local runtime did not settle within 300 s"


@dataclass
class E2E:
    """The session runtime with the clients and look-ups the e2e tests share."""

    runtime: LocalRuntime
    s3: Any
    sfn: Any
    data: Any
    bucket: str
    machine_arn: str

    @staticmethod
    def sales_csv(rows: Sequence[Sequence[Any]]) -> bytes:
        """A sales_lines file (header row first) of `rows`, in SALES_COLUMNS order."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SALES_COLUMNS)
        writer.writerows(rows)
        return out.getvalue().encode()

    @property
    def bus_name(self) -> str:
        (bus,) = self.runtime.template.of_type("AWS::Events::EventBus")
        return bus.ref

    def upload(self, key: str, body: bytes) -> str:
        """Put an object in the landing bucket, wait for what it triggers; its ETag, unquoted as in events."""
        etag = str(self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["ETag"])
        settle(self.runtime)
        return etag.strip('"')

    def settle(self) -> None:
        settle(self.runtime)

    def client_as(self, function_logical_id: str, service: str) -> Any:
        """A client of `service` signed as the function's role session."""
        return client_as_function(self.runtime, function_logical_id, service)

    def client(self, service: str) -> Any:
        return aws_client(self.runtime, service)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        assert self.runtime.postgres is not None
        with self.runtime.postgres.connect() as conn:
            return list(conn.execute(sql, params).fetchall())

    def scalar(self, sql: str, *params: Any) -> Any:
        return self.rows(sql, *params)[0][0]

    def executions(self, pipeline: str) -> list[Execution]:
        """Executions of one pipeline, oldest first."""
        runs = [
            e
            for e in list(self.runtime.stepfunctions.executions.values())
            if isinstance(e.input, dict) and e.input.get("pipeline") == pipeline
        ]
        return sorted(runs, key=lambda e: (e.start_date or datetime.min.replace(tzinfo=UTC), e.name))

    def executions_for_key(self, pipeline: str, key: str) -> list[Execution]:
        runs = self.executions(pipeline)
        return [e for e in runs if e.input.get("parameters", {}).get("object_key") == key]

    def events(self, detail_type: str, **detail: Any) -> list[PutEventRecord]:
        """Events of `detail_type` put on any bus whose detail has every given field."""
        return [
            record
            for record in self.runtime.events.events()
            if record.event["detail-type"] == detail_type
            and all(record.event["detail"].get(name) == value for name, value in detail.items())
        ]

    def pipeline_events(self, detail_type: str, pipeline: str, key: str) -> list[PutEventRecord]:
        """Completion events of the runs of `pipeline` on the landing object `key`."""
        return [
            record
            for record in self.events(detail_type, pipeline=pipeline)
            if record.event["detail"].get("parameters", {}).get("object_key") == key
        ]


@pytest.fixture(scope="session")
def e2e(runtime: LocalRuntime) -> E2E:
    machines = {m.logical_id: m.arn for m in runtime.template.of_type("AWS::StepFunctions::StateMachine")}
    return E2E(
        runtime=runtime,
        s3=aws_client(runtime, "s3"),
        sfn=aws_client(runtime, "stepfunctions"),
        data=aws_client(runtime, "redshift-data"),
        bucket=landing_bucket(runtime),
        machine_arn=machines["RunPipelineStateMachine"],
    )


@pytest.fixture(scope="session")
def reference_data(e2e: E2E) -> dict[str, list[tuple[Any, ...]]]:
    """The sample stores and products, loaded through their ingest pipelines so that joins work."""
    for key in ("reference/stores/stores.csv", "reference/products/products.csv"):
        e2e.upload(key, (SAMPLE_DIR / key).read_bytes())
    stores = e2e.rows("SELECT store_id, store_name, region FROM sales.dim_store ORDER BY store_id")
    products = e2e.rows("SELECT product_sku, category FROM sales.dim_product ORDER BY product_sku")
    assert stores and products, "the sample reference data did not load"
    return {"stores": stores, "products": products}
