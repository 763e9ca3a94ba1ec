"""A load that loses a serialization conflict is submitted again and loads, under either level.

Redshift rolls back the transaction with error 1023 and the documented fix is to run it again
("Fixing serializable isolation errors",
https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html); under SNAPSHOT, two
concurrent writes of the same rows conflict ("Amazon Redshift launches Snapshot Isolation",
https://aws.amazon.com/about-aws/whats-new/2022/05/amazon-redshift-snapshot-isolation-level-support-concurrent-transactions/).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E

ROWS = [["ISO-1", 1, "2026-02-01 10:00:00", "ST001", "SKU-100001", "C1", 1, "2.50", "0.00", "USD"]]


def _wait_for_a_lock_wait(e2e: E2E) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if e2e.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"):
            return
        time.sleep(0.05)
    raise AssertionError("the load never waited for the held rows")


def test_a_load_that_conflicts_with_a_concurrent_delete_is_resubmitted_and_loads(e2e: E2E) -> None:
    key = "sales/2026/02/01/iso_conflict.csv"
    source = f"s3://{e2e.bucket}/{key}"
    e2e.upload(key, e2e.sales_csv(ROWS))
    assert e2e.runtime.postgres is not None
    with e2e.runtime.postgres.connect(autocommit=False) as other:
        # A concurrent job deletes the first version's rows and has not committed yet.
        other.execute("DELETE FROM sales.fact_sales WHERE source_key = %s", (source,))
        new_version = [[*ROWS[0][:6], 3, *ROWS[0][7:]]]
        etag = str(e2e.s3.put_object(Bucket=e2e.bucket, Key=key, Body=e2e.sales_csv(new_version))["ETag"])
        _wait_for_a_lock_wait(e2e)
        other.commit()
    e2e.settle()

    _first_version, second = e2e.executions_for_key("ingest_sales", key)
    assert second.status == "SUCCEEDED", second.cause
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in second.history.events
        if "stateEnteredEventDetails" in e
    ]
    assert entered.count("ExecuteStep") == 2 and "WaitBeforeResubmit" in entered
    assert e2e.runtime.redshift_data is not None
    loads = [
        s
        for s in e2e.runtime.redshift_data.statements()
        if str(s.request.get("StatementName", "")).startswith(f"{second.name}.")
    ]
    errors = [s.error or "" for s in loads if s.status.value == "FAILED"]
    assert len(errors) == 1 and "ERROR: 1023 DETAIL: Serializable isolation violation on table" in errors[0]
    assert e2e.rows(
        "SELECT status FROM etl.load_ledger WHERE object_key = %s AND etag = %s", key, etag.strip('"')
    ) == [("LOADED",)]
    assert e2e.rows("SELECT quantity FROM sales.fact_sales WHERE source_key = %s", source) == [(3,)]
