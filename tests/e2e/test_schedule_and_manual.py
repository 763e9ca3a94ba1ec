"""Schedules on the virtual clock, and manual starts through boto3 and the AWS CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E

AWS_CLI = Path(sys.executable).with_name("aws")


def test_the_nightly_schedule_fires_the_snapshot_and_then_the_customer_segments(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    runtime = e2e.runtime
    fire_time = runtime.scheduler.next_fire_time()
    assert fire_time is not None and (fire_time.hour, fire_time.minute) == (2, 0)
    business_date = (fire_time - timedelta(days=1)).date().isoformat()
    stores = [row[0] for row in reference_data["stores"][10:12]]
    sku = reference_data["products"][5][0]
    rows = [
        [f"E2ENIGHT-{store}-{n}", 1, f"{business_date} 12:0{n}:00", store, sku, f"E2ENIGHT-C{i}", n, "10.00",
         "1.00", "USD"]
        for i, store in enumerate(stores) for n in (1, 2)
    ]  # fmt: skip
    e2e.upload(f"sales/{business_date.replace('-', '/')}/e2e_nightly.csv", e2e.sales_csv(rows))
    nightly_before = len(e2e.executions("nightly_sales_snapshot"))
    segments_before = len(e2e.executions("load_customer_segments"))

    assert runtime.scheduler.run_until(fire_time + timedelta(seconds=1)) == 1
    e2e.settle()

    (nightly,) = e2e.executions("nightly_sales_snapshot")[nightly_before:]
    assert nightly.status == "SUCCEEDED", nightly.cause
    assert nightly.start_date is not None and nightly.start_date >= fire_time
    (succeeded,) = e2e.events(
        "Pipeline Succeeded", pipeline="nightly_sales_snapshot", execution_arn=nightly.arn
    )
    assert succeeded.event["detail"]["parameters"] == {"business_date": business_date}
    (segments,) = e2e.executions("load_customer_segments")[segments_before:]
    assert segments.status == "SUCCEEDED", segments.cause
    assert segments.input == {
        "pipeline": "load_customer_segments",
        "parameters": {"business_date": business_date},
    }

    snapshot = e2e.rows(
        "SELECT store_id, orders, units, net_amount FROM reporting.daily_sales_snapshot"
        " WHERE business_date = %s AND store_id = ANY(%s) ORDER BY store_id",
        business_date, stores,
    )  # fmt: skip
    assert snapshot == [(store, 2, 3, Decimal("28.00")) for store in stores]
    segmented = e2e.rows(
        "SELECT customer_id, segment, orders_90d FROM reporting.customer_segments"
        " WHERE business_date = %s AND customer_id LIKE 'E2ENIGHT-%%' ORDER BY customer_id",
        business_date,
    )  # fmt: skip
    assert segmented == [(f"E2ENIGHT-C{i}", "NEW", 2) for i in range(len(stores))]


def test_a_manual_boto3_start_runs_the_pipeline_and_its_downstream(e2e: E2E) -> None:
    segments_before = len(e2e.executions("load_customer_segments"))
    request = {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": "2026-01-15"}}

    started = e2e.sfn.start_execution(
        stateMachineArn=e2e.machine_arn, name="e2e-backfill-2026-01-15", input=json.dumps(request)
    )
    e2e.settle()

    described = e2e.sfn.describe_execution(executionArn=started["executionArn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["input"]) == request
    (segments,) = e2e.executions("load_customer_segments")[segments_before:]
    assert (segments.status, segments.input["parameters"]) == ("SUCCEEDED", {"business_date": "2026-01-15"})
    assert e2e.scalar(
        "SELECT count(*) FROM reporting.daily_sales_snapshot WHERE business_date = '2026-01-15'"
    ) == e2e.scalar("SELECT count(DISTINCT store_id) FROM sales.fact_sales WHERE order_date = '2026-01-15'")


def test_a_manual_start_with_a_bad_parameter_fails_before_any_step_and_starts_nothing(e2e: E2E) -> None:
    segments_before = len(e2e.executions("load_customer_segments"))
    request = {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": "yesterday-ish"}}

    arn = e2e.sfn.start_execution(stateMachineArn=e2e.machine_arn, input=json.dumps(request))["executionArn"]
    e2e.settle()

    described = e2e.sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    (failed,) = e2e.events("Pipeline Failed", execution_arn=arn)
    detail = failed.event["detail"]
    assert detail["pipeline"] == "nightly_sales_snapshot"
    assert (detail["step"], detail["statement_id"]) == (None, None)
    assert "business_date" in detail["error"] and "yesterday-ish" in detail["error"]
    assert detail["error_type"]
    assert failed.matched_rules == ()
    assert len(e2e.executions("load_customer_segments")) == segments_before


def test_a_manual_start_through_the_aws_cli(e2e: E2E, tmp_path: Path) -> None:
    assert AWS_CLI.exists() or shutil.which("aws"), "the AWS CLI is a dev dependency"
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": e2e.runtime.template.region,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)
    refreshes_before = len(e2e.executions("refresh_sales_views"))

    def aws(*args: str) -> Any:
        command = [str(AWS_CLI if AWS_CLI.exists() else "aws"), "--endpoint-url", e2e.runtime.url,
                   "--output", "json", *args]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    started = aws(
        "stepfunctions", "start-execution", "--state-machine-arn", e2e.machine_arn,
        "--name", "e2e-cli-refresh", "--input", '{"pipeline": "refresh_sales_views", "parameters": {}}',
    )  # fmt: skip
    assert started["executionArn"].endswith(":e2e-cli-refresh")
    e2e.settle()

    described = aws("stepfunctions", "describe-execution", "--execution-arn", started["executionArn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert len(e2e.executions("refresh_sales_views")) == refreshes_before + 1
