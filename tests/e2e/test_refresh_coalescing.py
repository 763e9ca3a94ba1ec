"""Coalesced view refreshes: a burst of loads, at most one refresh per view per window, never two at once.

AWS behaviour the design rests on (docs/aws.md, "Coalesced view refreshes"):
- StartExecution: "When the original execution is open and the execution input from the new call is
  identical, the Success message is returned"; a closed one answers ExecutionAlreadyExists (AWS Step
  Functions API Reference, StartExecution, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
- ListExecutions: "Results are sorted by time, with the most recent execution first"
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html).
- STV_MV_INFO `is_stale` (https://docs.aws.amazon.com/redshift/latest/dg/r_STV_MV_INFO.html) and
  SVL_MV_REFRESH_STATUS (https://docs.aws.amazon.com/redshift/latest/dg/r_SVL_MV_REFRESH_STATUS.html).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from rsetl.lambdas import LambdaFault
from rsetl.stepfunctions.interpreter import Execution

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E

BURST_FILES = 12


def _window_seconds(e2e: E2E) -> int:
    function = e2e.runtime.template.resources["RequestRefreshFunction"]
    return int(function.properties["Environment"]["Variables"]["REFRESH_WINDOW_SECONDS"])


def _coalescer_runs(e2e: E2E) -> list[Execution]:
    machine = e2e.runtime.template.resources["RefreshViewsStateMachine"].arn
    runs = [e for e in list(e2e.runtime.stepfunctions.executions.values()) if e.state_machine_arn == machine]
    return sorted(runs, key=lambda e: e.name)


def _refresh_rows(e2e: E2E) -> list[tuple[str, str]]:
    """(view, status) of every REFRESH the database ran, as SVL_MV_REFRESH_STATUS lists them."""
    rows = e2e.rows(
        "SELECT c.relname, m.status FROM rsetl_compat.mv_refreshes m JOIN pg_class c ON c.oid = m.mvid"
        " WHERE m.command = 'REFRESH MATERIALIZED VIEW' ORDER BY m.refresh_id"
    )
    return [(str(view), str(status)) for view, status in rows]


def _stale(e2e: E2E) -> dict[str, str]:
    rows = e2e.rows("SELECT name, is_stale FROM rsetl_compat.stv_mv_info WHERE schema = 'reporting'")
    return {str(name).strip(): str(stale) for name, stale in rows}


def _burst_file(e2e: E2E, stores: list[str], skus: list[str], index: int) -> bytes:
    rows = [
        [f"BURST-{index}-{line}", line, f"2026-02-0{1 + index % 5} 10:00:00", stores[index % len(stores)],
         skus[(index + line) % len(skus)], f"BC{index}", line, "3.25", "0.25", "USD"]
        for line in (1, 2)
    ]  # fmt: skip
    return e2e.sales_csv(rows)


def test_a_burst_refreshes_each_view_at_most_once_per_window_never_twice_at_once_and_last_after_it(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    stores = [row[0] for row in reference_data["stores"]][:3]
    skus = [row[0] for row in reference_data["products"]][:4]
    window = _window_seconds(e2e)
    refreshes_before = len(e2e.executions("refresh_sales_views"))
    coalescers_before = {run.name for run in _coalescer_runs(e2e)}
    keys = [f"sales/2026/02/burst/file_{index:03d}.csv" for index in range(BURST_FILES)]

    for index, key in enumerate(keys):
        e2e.s3.put_object(Bucket=e2e.bucket, Key=key, Body=_burst_file(e2e, stores, skus, index))
    e2e.settle()

    ingests = [run for key in keys for run in e2e.executions_for_key("ingest_sales", key)]
    assert len(ingests) == BURST_FILES and {run.status for run in ingests} == {"SUCCEEDED"}
    refreshes = e2e.executions("refresh_sales_views")[refreshes_before:]
    coalescers = [run for run in _coalescer_runs(e2e) if run.name not in coalescers_before]
    assert {run.status for run in coalescers} == {"SUCCEEDED"}
    assert {run.status for run in refreshes} == {"SUCCEEDED"}
    # Far fewer refreshes than loads: every load of one window joined that window's execution.
    assert 1 <= len(refreshes) == len(coalescers) < BURST_FILES

    # At most one refresh per window, and none starts before the previous one ended.
    starts = [run.start_date for run in refreshes]
    assert all(start is not None for start in starts)
    per_window = Counter(int(start.astimezone(UTC).timestamp()) // window for start in starts if start)
    assert max(per_window.values()) == 1, per_window
    ordered = sorted(refreshes, key=lambda run: run.start_date or 0)
    for earlier, later in pairwise(ordered):
        assert earlier.stop_date is not None and later.start_date is not None
        assert later.start_date >= earlier.stop_date

    # The last refresh came after the last load and the views hold every loaded row.
    last_load = max(run.stop_date for run in ingests if run.stop_date)
    assert ordered[-1].start_date is not None and ordered[-1].start_date >= last_load
    assert _stale(e2e) == {"mv_daily_store_sales": "f", "mv_category_sales": "f"}
    assert e2e.scalar("SELECT sum(lines) FROM reporting.mv_daily_store_sales") == e2e.scalar(
        "SELECT count(*) FROM sales.fact_sales f JOIN sales.dim_store s ON s.store_id = f.store_id"
    )
    assert e2e.scalar("SELECT sum(lines) FROM reporting.mv_category_sales") == e2e.scalar(
        "SELECT count(*) FROM sales.fact_sales f JOIN sales.dim_product p ON p.product_sku = f.product_sku"
    )


def test_a_failed_refresh_is_retried_and_a_view_whose_inputs_did_not_change_is_skipped(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    e2e.settle()
    sku = reference_data["products"][0][0]
    assert _stale(e2e) == {"mv_daily_store_sales": "f", "mv_category_sales": "f"}
    # A one-row change to a product: only the category view reads dim_product.
    e2e.rows("UPDATE sales.dim_product SET list_price = list_price WHERE product_sku = %s RETURNING 1", sku)
    assert _stale(e2e) == {"mv_daily_store_sales": "f", "mv_category_sales": "t"}
    refreshed_before = _refresh_rows(e2e)
    runtime = e2e.runtime
    assert runtime.lambdas is not None
    prepare_run = runtime.template.resources["PrepareRunFunction"].ref
    runtime.lambdas.faults.fail_next(prepare_run, LambdaFault.EXCEPTION)
    machine = runtime.template.resources["RefreshViewsStateMachine"].arn
    now = runtime.options.clock.now() if runtime.options.clock else None
    assert now is not None
    e2e.sfn.start_execution(
        stateMachineArn=machine,
        name="refresh-sales-views-e2e-retry",
        input=json.dumps({"window_end": now.strftime("%Y-%m-%dT%H:%M:%SZ")}),
    )
    e2e.settle()

    attempts = [
        run
        for run in e2e.executions("refresh_sales_views")
        if run.name.startswith("refresh-sales-views-e2e-retry-")
    ]
    assert [(run.name[-1], run.status) for run in sorted(attempts, key=lambda run: run.name)] == [
        ("0", "FAILED"),
        ("1", "SUCCEEDED"),
    ]
    # The retry refreshed the stale view once; the fresh one ran no REFRESH at all.
    assert _refresh_rows(e2e)[len(refreshed_before) :] == [
        ("mv_category_sales", "Refresh successfully recomputed MV from scratch")
    ]
    assert _stale(e2e) == {"mv_daily_store_sales": "f", "mv_category_sales": "f"}
