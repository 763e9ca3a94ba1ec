"""Files whose key fields are empty or blank: COPY loads them as NULL, so the merge rejects the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E


def test_a_sales_file_with_empty_and_blank_keys_is_rejected_and_loads_nothing(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Without EMPTYASNULL and BLANKSASNULL, Redshift's COPY loads an empty or blank VARCHAR key as
    '' or spaces, not NULL, and the merge's NULL-key check never fires; with them, it does.

    Data conversion parameters, EMPTYASNULL and BLANKSASNULL
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html).
    """
    store = reference_data["stores"][0][0]
    sku = reference_data["products"][0][0]
    rows = [
        ["E2EKEY-1", 1, "2026-01-17 10:00:00", store, sku, "E2EKEY-C1", 1, "3.00", "0.00", "USD"],
        ["", 2, "2026-01-17 10:00:00", store, sku, "E2EKEY-C1", 1, "3.00", "0.00", "USD"],
        ["E2EKEY-1", 3, "2026-01-17 10:00:00", store, "   ", "E2EKEY-C1", 1, "3.00", "0.00", "USD"],
    ]
    key = "sales/2026/01/17/e2e_empty_keys.csv"

    e2e.upload(key, e2e.sales_csv(rows))

    (ingest,) = e2e.executions_for_key("ingest_sales", key)
    assert ingest.status == "FAILED"
    (failed,) = e2e.pipeline_events("Pipeline Failed", "ingest_sales", key)
    assert "2 row(s) with a null order_id" in failed.event["detail"]["error"]
    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE source_key = %s",
                      f"s3://{e2e.bucket}/{key}") == 0  # fmt: skip
    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE order_id IN ('', 'E2EKEY-1')") == 0


def test_a_products_file_with_an_empty_sku_is_rejected(e2e: E2E) -> None:
    key = "reference/products/e2e_empty_sku.csv"
    before = e2e.scalar("SELECT count(*) FROM sales.dim_product")

    e2e.upload(key, b'product_sku,product_name,category,list_price\n"",Widget,Tools,1.00\n')

    (ingest,) = e2e.executions_for_key("ingest_products", key)
    assert ingest.status == "FAILED"
    (failed,) = e2e.pipeline_events("Pipeline Failed", "ingest_products", key)
    assert "1 row(s) with a null product_sku" in failed.event["detail"]["error"]
    assert e2e.scalar("SELECT count(*) FROM sales.dim_product") == before
