"""Exactly once under Redshift's isolation levels: concurrent ingests and duplicate deliveries.

A Redshift transaction's snapshot is taken at its first SELECT, DML or CREATE TABLE, not at
LOCK ("Isolation levels in Amazon Redshift",
https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html); the fix for
serialization errors is to lock first or to run the transaction again ("Fixing serializable
isolation errors", same page; "Managing concurrent write operations",
https://docs.aws.amazon.com/redshift/latest/dg/c_Concurrent_writes.html). With the ledger locked
after the COPY, a duplicate delivery under SNAPSHOT loads the file twice and two loads of
different files under SERIALIZABLE fail with error 1023, quarantining a valid file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from reliability_support import (
    aws_client,
    executions_for,
    landing_bucket,
    query,
    run_pipeline_arn,
    sales_csv,
    scalar,
    settle,
    upload_concurrently,
)

from rsetl.runtime import LocalRuntime

FILES = 50
DUPLICATES = 25
LOAD_SECONDS = 20
"""Each load's transaction stays open this long (virtual time), so the loads overlap."""
LAMBDA_CONCURRENCY = 8
"""Workers per function: enough for a duplicate delivery's two runs to submit at once."""


@pytest.fixture(params=["SNAPSHOT", "SERIALIZABLE"])
def isolation_level(request: pytest.FixtureRequest, runtime: LocalRuntime) -> Iterator[str]:
    """The dev database at each of Redshift's levels, as `ALTER DATABASE dev ISOLATION LEVEL` sets it."""
    assert runtime.lambdas is not None
    before = runtime.options.isolation_level, runtime.lambdas.max_workers_per_function
    runtime.set_isolation_level(str(request.param))
    runtime.lambdas.max_workers_per_function = LAMBDA_CONCURRENCY
    yield str(request.param)
    runtime.set_isolation_level(before[0])
    runtime.lambdas.max_workers_per_function = before[1]


@pytest.mark.slow
def test_concurrent_ingests_and_duplicate_deliveries_load_every_file_exactly_once(
    runtime: LocalRuntime, isolation_level: str
) -> None:
    assert scalar(runtime, "SELECT current_setting('default_transaction_isolation')") == (
        "repeatable read" if isolation_level == "SNAPSHOT" else "serializable"
    )
    runtime.events.dispatcher.faults.duplicate(run_pipeline_arn(runtime), times=DUPLICATES)
    prefix = f"sales/2026/11/09/{isolation_level.lower()}-"
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.simulate_duration(prefix, LOAD_SECONDS)
    keys = [f"{prefix}{n:03d}.csv" for n in range(FILES)]
    upload_concurrently(runtime, {key: sales_csv(f"{isolation_level}-{n}", 3) for n, key in enumerate(keys)})
    settle(runtime, timeout=900)

    ledger = Counter(
        (key, status)
        for key, status in query(
            runtime, "SELECT object_key, status FROM etl.load_ledger WHERE object_key LIKE %s", prefix + "%"
        )
    )
    assert ledger == {(key, "LOADED"): 1 for key in keys}, "every file LOADED once, no FAILED row"
    rows = query(
        runtime,
        "SELECT count(*), count(DISTINCT (order_id, line_number)) FROM sales.fact_sales"
        " WHERE source_key LIKE %s",
        f"%/{prefix}%",
    )
    assert rows == [(3 * FILES, 3 * FILES)], "no duplicate row"
    quarantined = aws_client(runtime, "s3").list_objects_v2(
        Bucket=landing_bucket(runtime), Prefix=f"quarantine/{prefix}"
    )
    assert quarantined.get("KeyCount") == 0, "no valid file quarantined"
    runs = [run for key in keys for run in executions_for(runtime, key)]
    assert FILES < len(runs) <= FILES + DUPLICATES, "the duplicate deliveries started runs of their own"
    assert Counter(run.status for run in runs) == {"SUCCEEDED": len(runs)}
