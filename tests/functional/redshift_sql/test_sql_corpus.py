"""The project's Redshift-dialect sql/ applied to a fresh database, twice, and its procedures exercised."""

from __future__ import annotations

import datetime as dt
import gzip
import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import LoadError, RedshiftSqlRunner

pytestmark = pytest.mark.postgres

ROLE = "arn:aws:iam::123456789012:role/load"
SALES_HEADER = (
    "order_id,line_number,order_ts,store_id,product_sku,customer_id,quantity,unit_price,discount,currency\n"
)
SALES = SALES_HEADER + (
    "O-1,1,2024-03-01 09:15:00,S1,P1,C1,2,10.00,1.00,USD\n"
    "O-1,2,2024-03-01 09:15:00,S1,P2,C1,1,5.50,,USD\n"
    "O-2,1,2024-03-01 17:40:00,S2,P1, ,3,10.00,0,CAD\n"
    "O-3,1,2024-01-10 12:00:00,S1,P2,C2,1,5.50,0,USD\n"
)
PRODUCTS = "product_sku,product_name,category,list_price\nP1, Widget ,Tools,10.00\nP2,Gadget,Toys,5.50\n"
STORES = (
    "store_id,store_name,city,region,opened_on\n"
    "S1,Main St,Springfield,west,2020-01-01\n"
    "S2,Harbor,Shelbyville,east,2021-06-15\n"
)


def apply_sql(runner: RedshiftSqlRunner, conn: psycopg.Connection, sql_dir: Path) -> list[str]:
    files = sorted(sql_dir.glob("*.sql"))
    for path in files:
        runner.run(conn, path.read_text(encoding="utf-8"))
    return [path.name for path in files]


def load_file(
    runner: RedshiftSqlRunner,
    conn: psycopg.Connection,
    name: str,
    key: str,
    etag: str,
    *,
    gzipped: bool = False,
) -> None:
    """The ingest batch of docs/contracts.md, in one transaction."""
    options = "FORMAT AS CSV IGNOREHEADER 1" + (" GZIP" if gzipped else "")
    with conn.transaction():
        runner.run(conn, "LOCK etl.load_ledger")
        runner.run(conn, f"CREATE TEMP TABLE {name}_batch (LIKE staging.{name})")
        runner.run(
            conn,
            f"COPY {name}_batch FROM 's3://landing/{key}' IAM_ROLE '{ROLE}' {options}",
        )
        runner.run(
            conn,
            f"CALL sales.sp_merge_{name}(:bucket, :object_key, :etag, :execution_name)",
            {"bucket": "landing", "object_key": key, "etag": etag, "execution_name": "run-1"},
        )
        runner.run(conn, f"DROP TABLE {name}_batch")


@pytest.fixture
def demo(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, sql_dir: Path
) -> None:
    apply_sql(runner, conn, sql_dir)
    store.put_object("landing", "reference/stores/stores.csv", STORES.encode())
    store.put_object("landing", "reference/products/products.csv", PRODUCTS.encode())
    store.put_object("landing", "sales/2024/03/01/pos.csv.gz", gzip.compress(SALES.encode()))
    load_file(runner, conn, "stores", "reference/stores/stores.csv", '"e-stores"')
    load_file(runner, conn, "products", "reference/products/products.csv", "e-products")
    load_file(runner, conn, "sales_lines", "sales/2024/03/01/pos.csv.gz", '"e-sales"', gzipped=True)


def test_sql_applies_twice_to_a_fresh_database(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, sql_dir: Path
) -> None:
    names = apply_sql(runner, conn, sql_dir)
    apply_sql(runner, conn, sql_dir)
    assert names, "sql/ holds no files"
    tables = runner.run(
        conn,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_schema IN ('etl', 'staging', 'sales', 'reporting') ORDER BY 1",
    ).rows
    assert tables is not None
    assert ("sales.fact_sales",) in tables and ("etl.load_ledger",) in tables
    currencies = runner.run(conn, "SELECT COUNT(*) FROM sales.dim_currency").rows
    assert currencies == [(3,)]


@pytest.mark.usefixtures("demo")
def test_merges_load_facts_dimensions_and_ledger(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    facts = runner.run(
        conn,
        "SELECT order_id, line_number, order_date, customer_id, discount, net_amount, source_key"
        " FROM sales.fact_sales ORDER BY order_id, line_number",
    ).rows
    assert facts == [
        (
            "O-1",
            1,
            dt.date(2024, 3, 1),
            "C1",
            Decimal("1.00"),
            Decimal("19.00"),
            "s3://landing/sales/2024/03/01/pos.csv.gz",
        ),
        (
            "O-1",
            2,
            dt.date(2024, 3, 1),
            "C1",
            Decimal("0.00"),
            Decimal("5.50"),
            "s3://landing/sales/2024/03/01/pos.csv.gz",
        ),
        (
            "O-2",
            1,
            dt.date(2024, 3, 1),
            None,
            Decimal("0.00"),
            Decimal("30.00"),
            "s3://landing/sales/2024/03/01/pos.csv.gz",
        ),
        (
            "O-3",
            1,
            dt.date(2024, 1, 10),
            "C2",
            Decimal("0.00"),
            Decimal("5.50"),
            "s3://landing/sales/2024/03/01/pos.csv.gz",
        ),
    ]
    assert runner.run(conn, "SELECT product_name, category FROM sales.dim_product ORDER BY 1").rows == [
        ("Gadget", "Toys"),
        ("Widget", "Tools"),
    ]
    assert runner.run(conn, "SELECT region FROM sales.dim_store ORDER BY store_id").rows == [
        ("WEST",),
        ("EAST",),
    ]
    ledger = runner.run(
        conn, "SELECT pipeline, etag, status, rows_loaded FROM etl.load_ledger ORDER BY ledger_id"
    ).rows
    assert ledger == [
        ("ingest_stores", "e-stores", "LOADED", 2),
        ("ingest_products", "e-products", "LOADED", 2),
        ("ingest_sales", "e-sales", "LOADED", 4),
    ]


@pytest.mark.usefixtures("demo")
def test_duplicate_delivery_changes_nothing(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    load_file(runner, conn, "sales_lines", "sales/2024/03/01/pos.csv.gz", "e-sales", gzipped=True)
    assert runner.run(conn, "SELECT COUNT(*) FROM sales.fact_sales").rows == [(4,)]
    assert runner.run(conn, "SELECT COUNT(*) FROM etl.load_ledger WHERE pipeline = 'ingest_sales'").rows == [
        (1,)
    ]


@pytest.mark.usefixtures("demo")
def test_invalid_batch_is_rejected_with_the_bad_rows_named(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    bad = SALES_HEADER + "O-9,1,2024-03-02 10:00:00,S1,P1,C1,0,10.00,0,EUR\n"
    store.put_object("landing", "sales/2024/03/02/bad.csv", bad.encode())
    with pytest.raises(psycopg.errors.RaiseException, match=r"zero or negative quantity.*unknown currency"):
        load_file(runner, conn, "sales_lines", "sales/2024/03/02/bad.csv", "e-bad")
    runner.run(
        conn,
        "CALL etl.sp_record_failed_load("
        ":bucket, :object_key, :etag, :pipeline, :execution_name, :error_message)",
        {
            "bucket": "landing",
            "object_key": "sales/2024/03/02/bad.csv",
            "etag": '"e-bad"',
            "pipeline": "ingest_sales",
            "execution_name": "run-2",
            "error_message": "rejected",
        },
    )
    assert runner.run(conn, "SELECT COUNT(*) FROM sales.fact_sales WHERE order_id = 'O-9'").rows == [(0,)]
    assert runner.run(
        conn, "SELECT status, etag FROM etl.load_ledger WHERE execution_name = 'run-2'"
    ).rows == [("FAILED", "e-bad")]


@pytest.mark.usefixtures("demo")
def test_copy_error_in_the_batch_names_file_and_line(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    bad = (
        SALES_HEADER
        + "O-7,1,2024-03-02 10:00:00,S1,P1,C1,2,10.00,0,USD\nO-7,2,2024-03-02 10:00:00,S1,P1,C1,two,1,0,USD\n"
    )
    store.put_object("landing", "sales/2024/03/02/typo.csv", bad.encode())
    with pytest.raises(LoadError) as caught:
        load_file(runner, conn, "sales_lines", "sales/2024/03/02/typo.csv", "e-typo")
    assert caught.value.file == "s3://landing/sales/2024/03/02/typo.csv"
    assert caught.value.line == 3
    assert caught.value.column == "quantity"
    assert runner.run(conn, "SELECT COUNT(*) FROM sales.fact_sales WHERE order_id = 'O-7'").rows == [(0,)]


@pytest.mark.usefixtures("demo")
def test_materialized_views_refresh(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, "REFRESH MATERIALIZED VIEW reporting.mv_daily_store_sales")
    runner.run(conn, "REFRESH MATERIALIZED VIEW reporting.mv_category_sales")
    daily = runner.run(
        conn,
        "SELECT order_date, store_id, region, orders, lines, units, net_amount"
        " FROM reporting.mv_daily_store_sales ORDER BY order_date, store_id",
    ).rows
    assert daily == [
        (dt.date(2024, 1, 10), "S1", "WEST", 1, 1, 1, Decimal("5.50")),
        (dt.date(2024, 3, 1), "S1", "WEST", 1, 2, 3, Decimal("24.50")),
        (dt.date(2024, 3, 1), "S2", "EAST", 1, 1, 3, Decimal("30.00")),
    ]
    categories = runner.run(
        conn, "SELECT category, SUM(net_amount) FROM reporting.mv_category_sales GROUP BY category ORDER BY 1"
    ).rows
    assert categories == [("Tools", Decimal("49.00")), ("Toys", Decimal("11.00"))]


@pytest.mark.usefixtures("demo")
def test_nightly_snapshot_and_segments(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    for _ in range(2):
        runner.run(
            conn, "CALL sales.sp_build_daily_snapshot(:business_date)", {"business_date": "2024-03-01"}
        )
        runner.run(
            conn, "CALL reporting.sp_load_customer_segments(:business_date)", {"business_date": "2024-03-01"}
        )
    snapshot = runner.run(
        conn,
        "SELECT store_id, region, orders, lines, units, customers, net_amount"
        " FROM reporting.daily_sales_snapshot WHERE business_date = '2024-03-01' ORDER BY store_id",
    ).rows
    assert snapshot == [
        ("S1", "WEST", 1, 2, 3, 1, Decimal("24.50")),
        ("S2", "EAST", 1, 1, 3, 0, Decimal("30.00")),
    ]
    segments = runner.run(
        conn,
        "SELECT customer_id, segment, days_since_last_order, orders_90d FROM reporting.customer_segments"
        " WHERE business_date = '2024-03-01' ORDER BY customer_id",
    ).rows
    assert segments == [("C1", "NEW", 0, 1), ("C2", "OCCASIONAL", 51, 1)]


@pytest.mark.usefixtures("demo")
def test_concurrent_duplicate_delivery_waits_on_the_ledger_lock_and_is_a_no_op(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object(
        "landing",
        "sales/2024/03/03/dup.csv",
        (SALES_HEADER + "O-5,1,2024-03-03 10:00:00,S1,P1,C1,1,1.00,0,USD\n").encode(),
    )
    key = "sales/2024/03/03/dup.csv"
    other = psycopg.connect(psycopg.conninfo.make_conninfo("", **conn.info.get_parameters()), autocommit=True)
    outcome: list[BaseException | None] = []

    def second_delivery() -> None:
        try:
            load_file(runner, other, "sales_lines", key, "e-dup")
            outcome.append(None)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    with conn.transaction():
        runner.run(conn, "LOCK etl.load_ledger")
        runner.run(conn, "CREATE TEMP TABLE sales_lines_batch (LIKE staging.sales_lines)")
        runner.run(conn, f"COPY sales_lines_batch FROM 's3://landing/{key}' FORMAT AS CSV IGNOREHEADER 1")
        runner.run(
            conn,
            "CALL sales.sp_merge_sales_lines(:bucket, :object_key, :etag, :execution_name)",
            {"bucket": "landing", "object_key": key, "etag": "e-dup", "execution_name": "first"},
        )
        worker = threading.Thread(target=second_delivery)
        worker.start()
        # Wait (bounded) until the second delivery is blocked on the ledger lock this transaction holds.
        blocked = False
        for _ in range(600):
            waiting = conn.execute(
                "SELECT COUNT(*) FROM pg_locks WHERE pid = %s AND NOT granted", (other.info.backend_pid,)
            ).fetchone()
            blocked = waiting == (1,)
            if blocked or outcome:
                break
            conn.execute("SELECT pg_sleep(0.05)")
        assert blocked and not outcome, "the second delivery did not wait for the ledger lock"
    worker.join(timeout=60)
    other.close()
    assert outcome == [None]
    ledger = runner.run(
        conn, "SELECT execution_name FROM etl.load_ledger WHERE object_key = :key", {"key": key}
    ).rows
    assert ledger == [("first",)]
    assert runner.run(conn, "SELECT COUNT(*) FROM sales.fact_sales WHERE order_id = 'O-5'").rows == [(1,)]
