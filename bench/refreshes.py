"""View refreshes per burst: `python -m bench.refreshes [--files N]` on the virtual clock.

`view_refreshes` is the counter a burst benchmark reads: the REFRESH MATERIALIZED VIEW statements the
database ran, per view (SVL_MV_REFRESH_STATUS as the local layer keeps it), and `refresh_runs` the
refresh_sales_views executions (one per window with coalescing; one per successful ingest before it).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import boto3

from rsetl.clock import VirtualClock
from rsetl.runtime import LocalRuntime, RuntimeOptions

PROJECT_DIR = Path(__file__).resolve().parents[1]


def view_refreshes(runtime: LocalRuntime) -> Counter[str]:
    """REFRESH statements run per materialized view (skipped refreshes of a fresh view are not counted)."""
    assert runtime.postgres is not None
    with runtime.postgres.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname, count(*) FROM rsetl_compat.mv_refreshes m JOIN pg_class c ON c.oid = m.mvid"
            " WHERE m.command = 'REFRESH MATERIALIZED VIEW' GROUP BY 1"
        ).fetchall()
    return Counter({str(name): int(count) for name, count in rows})


def refresh_runs(runtime: LocalRuntime) -> int:
    """refresh_sales_views executions that ran."""
    return sum(
        1
        for e in list(runtime.stepfunctions.executions.values())
        if isinstance(e.input, dict) and e.input.get("pipeline") == "refresh_sales_views"
    )


def _sales_file(index: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "line_number", "order_ts", "store_id", "product_sku", "customer_id",
                     "quantity", "unit_price", "discount", "currency"])  # fmt: skip
    writer.writerow([f"B{index}", 1, "2026-03-01 10:00:00", "S001", "P0001", "C1", 1, "2.00", "0", "USD"])
    return out.getvalue().encode()


def burst(files: int) -> dict[str, object]:
    """Upload `files` sales files at once and wait for the chain; what the refreshes cost."""
    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-bench-refresh-"))
    clock = VirtualClock(datetime(2026, 11, 6, 22, 0, tzinfo=UTC))
    runtime = LocalRuntime(RuntimeOptions(project_dir=PROJECT_DIR, state_dir=state_dir, clock=clock))
    runtime.start()
    try:
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=runtime.url, region_name=runtime.template.region,
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
        started = time.monotonic()
        for index in range(files):
            s3.put_object(Bucket=bucket.ref, Key=f"sales/bench/file_{index:05d}.csv", Body=_sales_file(index))
        assert runtime.settle(1800), "the burst did not settle"
        return {
            "files": files,
            "refresh_runs": refresh_runs(runtime),
            "view_refreshes": dict(view_refreshes(runtime)),
            "wall_seconds": round(time.monotonic() - started, 1),
        }
    finally:
        runtime.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=50)
    print(burst(parser.parse_args().files))


if __name__ == "__main__":
    main()
