"""S3 uploads through the real template, ASL, Lambdas and SQL: loads, views, duplicates, quarantine."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E


def _lines(order_date: str, prefix: str, stores: list[str], skus: list[str]) -> list[list[Any]]:
    """Two orders per store, two lines each; amounts vary per line so every sum is distinct."""
    rows: list[list[Any]] = []
    for s, store in enumerate(stores):
        for order in (1, 2):
            for line in (1, 2):
                sku = skus[(s + order + line) % len(skus)]
                price = Decimal("2.50") + s + order + Decimal(line) / 4
                rows.append(
                    [f"{prefix}-{store}-{order}", line, f"{order_date} 1{order}:0{line}:00", store, sku,
                     f"{prefix}-C{s}{order}", line + order, price, "0.50", "USD"]
                )  # fmt: skip
    return rows


def _net(row: list[Any]) -> Decimal:
    return Decimal(row[6]) * Decimal(row[7]) - Decimal(row[8])


def test_upload_loads_emits_succeeded_and_refreshes_the_views(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    stores = {row[0]: row for row in reference_data["stores"]}
    products = {row[0]: row for row in reference_data["products"]}
    store_ids, skus = sorted(stores)[:2], sorted(products)[:3]
    rows = _lines("2026-01-15", "E2EMV", store_ids, skus)
    key = "sales/2026/01/15/e2e_views.csv"
    refreshes_before = len(e2e.executions("refresh_sales_views"))

    etag = e2e.upload(key, e2e.sales_csv(rows))

    (ingest,) = e2e.executions_for_key("ingest_sales", key)
    assert ingest.status == "SUCCEEDED", ingest.cause
    assert ingest.input["parameters"] == {"bucket": e2e.bucket, "object_key": key, "etag": etag}
    (succeeded,) = e2e.pipeline_events("Pipeline Succeeded", "ingest_sales", key)
    detail = succeeded.event["detail"]
    assert succeeded.bus_name == e2e.bus_name
    assert succeeded.event["source"] == "rsetl.pipeline"
    assert (detail["state"], detail["execution_arn"]) == ("SUCCEEDED", ingest.arn)
    assert any("RefreshViewsAfterIngest" in rule for rule in succeeded.matched_rules)

    refreshes = e2e.executions("refresh_sales_views")[refreshes_before:]
    assert [r.status for r in refreshes] == ["SUCCEEDED"]
    assert refreshes[0].start_date is not None and ingest.stop_date is not None
    assert refreshes[0].start_date >= ingest.stop_date

    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE source_key = %s",
                      f"s3://{e2e.bucket}/{key}") == len(rows)  # fmt: skip
    by_store: dict[str, Decimal] = defaultdict(Decimal)
    by_category: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_store[row[3]] += _net(row)
        by_category[products[row[4]][1]] += _net(row)
    mv_stores = e2e.rows(
        "SELECT store_id, store_name, region, orders, lines, net_amount FROM reporting.mv_daily_store_sales"
        " WHERE order_date = '2026-01-15' ORDER BY store_id"
    )
    assert mv_stores == [
        (store, stores[store][1], stores[store][2], 2, 4, by_store[store]) for store in store_ids
    ]
    mv_categories = dict(
        e2e.rows(
            "SELECT category, net_amount FROM reporting.mv_category_sales WHERE order_date = '2026-01-15'"
        )
    )
    assert mv_categories == dict(by_category)


def test_rows_the_merge_rejects_fail_the_run_with_a_pipeline_failed_event_and_no_refresh(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    store = reference_data["stores"][0][0]
    sku = reference_data["products"][0][0]
    rows = [
        ["E2ENEG-1", 1, "2026-01-16 10:00:00", store, sku, "E2ENEG-C1", 2, "3.00", "0.00", "USD"],
        ["E2ENEG-1", 2, "2026-01-16 10:00:00", store, sku, "E2ENEG-C1", -1, "3.00", "0.00", "USD"],
    ]
    key = "sales/2026/01/16/e2e_negative_quantity.csv"
    refreshes_before = len(e2e.executions("refresh_sales_views"))

    e2e.upload(key, e2e.sales_csv(rows))

    (ingest,) = e2e.executions_for_key("ingest_sales", key)
    assert ingest.status == "FAILED"
    (failed,) = e2e.pipeline_events("Pipeline Failed", "ingest_sales", key)
    detail = failed.event["detail"]
    assert failed.bus_name == e2e.bus_name
    assert detail["state"] == "FAILED"
    assert (detail["pipeline"], detail["step"]) == ("ingest_sales", "load_file")
    assert detail["execution_name"] == ingest.name
    assert "1 row(s) with a zero or negative quantity" in detail["error"]
    # The Data API shows a statement to the IAM role that ran it, not to the administrator.
    with pytest.raises(e2e.data.exceptions.ResourceNotFoundException):
        e2e.data.describe_statement(Id=detail["statement_id"])
    statement = e2e.client_as("CheckStatementFunction", "redshift-data").describe_statement(
        Id=detail["statement_id"]
    )
    assert statement["Status"] == "FAILED"
    assert "zero or negative quantity" in statement["Error"]
    assert not any("RefreshViewsAfterIngest" in rule for rule in failed.matched_rules)
    assert e2e.pipeline_events("Pipeline Succeeded", "ingest_sales", key) == []
    assert len(e2e.executions("refresh_sales_views")) == refreshes_before
    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE order_id = 'E2ENEG-1'") == 0


def test_a_duplicate_delivery_runs_twice_and_loads_once(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    store_ids = [row[0] for row in reference_data["stores"][2:3]]
    skus = [row[0] for row in reference_data["products"][:2]]
    rows = _lines("2026-01-17", "E2EDUP", store_ids, skus)
    key = "sales/2026/01/17/e2e_duplicate.csv"
    body = e2e.sales_csv(rows)
    e2e.runtime.events.faults.duplicate(e2e.machine_arn)

    etag = e2e.upload(key, body)

    runs = e2e.executions_for_key("ingest_sales", key)
    assert [r.status for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert runs[0].input == runs[1].input
    _assert_loaded_once(e2e, key, etag, len(rows))

    assert e2e.upload(key, body) == etag, "the same bytes again have the same ETag"

    assert [r.status for r in e2e.executions_for_key("ingest_sales", key)] == ["SUCCEEDED"] * 3
    _assert_loaded_once(e2e, key, etag, len(rows))


def _assert_loaded_once(e2e: E2E, key: str, etag: str, rows: int) -> None:
    ledger = e2e.rows(
        "SELECT status, rows_loaded FROM etl.load_ledger WHERE bucket = %s AND object_key = %s",
        e2e.bucket, key,
    )  # fmt: skip
    assert ledger == [("LOADED", rows)]
    assert e2e.scalar("SELECT etag FROM etl.load_ledger WHERE object_key = %s", key) == etag
    facts = e2e.scalar(
        "SELECT count(*) FROM sales.fact_sales WHERE source_key = %s", f"s3://{e2e.bucket}/{key}"
    )
    assert facts == rows


def test_a_bad_file_is_quarantined_with_a_failed_ledger_row_and_loads_nothing(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    error_part = 'invalid input syntax for type integer: "two"'
    store = reference_data["stores"][3][0]
    sku = reference_data["products"][3][0]
    rows = [
        ["E2EBAD-1", 1, "2026-01-18 09:00:00", store, sku, "E2EBAD-C1", 1, "4.00", "0.00", "USD"],
        ["E2EBAD-1", 2, "2026-01-18 09:00:00", store, sku, "E2EBAD-C1", "two", "4.00", "0.00", "USD"],
    ]
    key = "sales/2026/01/18/e2e_bad_quantity.csv"
    refreshes_before = len(e2e.executions("refresh_sales_views"))

    e2e.upload(key, e2e.sales_csv(rows))

    (ingest,) = e2e.executions_for_key("ingest_sales", key)
    assert ingest.status == "FAILED"
    (failed,) = e2e.pipeline_events("Pipeline Failed", "ingest_sales", key)
    assert error_part in failed.event["detail"]["error"]
    assert any("QuarantineFailedIngest" in rule for rule in failed.matched_rules)

    quarantined = e2e.s3.head_object(Bucket=e2e.bucket, Key=f"quarantine/{key}")
    assert error_part in " ".join(quarantined["Metadata"].values())
    assert e2e.s3.list_objects_v2(Bucket=e2e.bucket, Prefix=key).get("KeyCount") == 0
    ((status, rows_loaded, error, execution_name),) = e2e.rows(
        "SELECT status, rows_loaded, error_message, execution_name FROM etl.load_ledger"
        " WHERE bucket = %s AND object_key = %s",
        e2e.bucket, key,
    )  # fmt: skip
    assert (status, execution_name) == ("FAILED", ingest.name)
    assert not rows_loaded
    assert error_part in error
    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE order_id = 'E2EBAD-1'") == 0
    assert len(e2e.executions("refresh_sales_views")) == refreshes_before
