"""COPY throughput: the Redshift layer's COPY from the object store vs psycopg's COPY FROM STDIN.

Run with `.venv/bin/python -m bench.copy_throughput [--rows N] [--repeat K]`. Both paths load the
same file into the same table on the same embedded PostgreSQL, alternating, and the best run of each
is compared; the layer's target is a ratio of at least 0.7.
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_sql import RedshiftSqlRunner

TARGET_RATIO = 0.7
CHUNK = 1 << 20
TABLE = """
CREATE TABLE IF NOT EXISTS public.bench_sales (
    order_id VARCHAR(32), line_number SMALLINT, order_ts TIMESTAMP, store_id VARCHAR(16),
    product_sku VARCHAR(32), customer_id VARCHAR(32), quantity INTEGER, unit_price DECIMAL(12, 2),
    discount DECIMAL(12, 2), currency CHAR(3)
) DISTSTYLE EVEN
"""
HEADER = (
    "order_id,line_number,order_ts,store_id,product_sku,customer_id,quantity,unit_price,discount,currency"
)
# Separate prefixes: a COPY from s3://bench/sales.csv would also load sales.csv.gz, as on Redshift.
KEYS = {"csv": ("csv/sales.csv", ""), "gzip": ("gzip/sales.csv.gz", " GZIP")}


def make_csv(rows: int, seed: int = 7) -> bytes:
    """A header line and `rows` sales lines, as the demo's POS export writes them."""
    rng = random.Random(seed)
    lines = [HEADER]
    for index in range(rows):
        order_ts = f"2024-03-{index % 28 + 1:02d} {index % 24:02d}:{index % 60:02d}:00"
        lines.append(
            f"O-{index // 3:09d},{index % 3 + 1},{order_ts},S{rng.randrange(50)},P{rng.randrange(5000):05d},"
            f"C{rng.randrange(100000)},{rng.randrange(1, 9)},{rng.randrange(100, 99999) / 100:.2f},"
            f"{rng.randrange(0, 500) / 100:.2f},USD"
        )
    return ("\n".join(lines) + "\n").encode()


def load_via_runner(runner: RedshiftSqlRunner, conn: psycopg.Connection, kind: str) -> tuple[float, int]:
    """Seconds and rows of the layer's COPY of the file of `kind`."""
    runner.run(conn, "TRUNCATE public.bench_sales")
    key, option = KEYS[kind]
    sql = f"COPY public.bench_sales FROM 's3://bench/{key}' IAM_ROLE 'arn:bench' CSV IGNOREHEADER 1{option}"
    start = time.perf_counter()
    rows = runner.run(conn, sql).rows_affected
    return time.perf_counter() - start, rows


def load_via_psycopg(conn: psycopg.Connection, body: bytes, kind: str) -> tuple[float, int]:
    """Seconds and rows of psycopg's COPY FROM STDIN of the same file (decompressed first if gzip)."""
    conn.execute("TRUNCATE public.bench_sales")
    start = time.perf_counter()
    data = gzip.decompress(body) if kind == "gzip" else body
    view = memoryview(data)
    with conn.transaction(), conn.cursor() as cursor:
        with cursor.copy("COPY public.bench_sales FROM STDIN (FORMAT csv, HEADER true)") as copy:
            for offset in range(0, len(data), CHUNK):
                copy.write(view[offset : offset + CHUNK])
        rows = cursor.rowcount
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description="COPY throughput of the Redshift layer vs psycopg")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = make_csv(args.rows)
    files = {"csv": data, "gzip": gzip.compress(data, compresslevel=6)}
    store = MemoryObjectStore()
    store.create_bucket("bench")
    for kind, (key, _) in KEYS.items():
        store.put_object("bench", key, files[kind])
    runner = RedshiftSqlRunner(store)

    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-bench-"))
    server = PostgresServer.start(state_dir / "state")
    try:
        with server.connect() as conn:
            runner.run(conn, TABLE)
            print(
                f"COPY throughput: {args.rows:,} rows ({len(data) / 1e6:.1f} MB CSV), best of {args.repeat}"
            )
            print(f"{'format':8} {'runner rows/s':>14} {'psycopg rows/s':>15} {'ratio':>7}")
            lowest = float("inf")
            for kind in KEYS:
                runner_times, psycopg_times = [], []
                for _ in range(args.repeat):
                    seconds, rows = load_via_runner(runner, conn, kind)
                    assert rows == args.rows, f"the runner loaded {rows} rows"
                    runner_times.append(seconds)
                    seconds, rows = load_via_psycopg(conn, files[kind], kind)
                    assert rows == args.rows, f"psycopg loaded {rows} rows"
                    psycopg_times.append(seconds)
                ratio = min(psycopg_times) / min(runner_times)
                lowest = min(lowest, ratio)
                runner_rate, psycopg_rate = args.rows / min(runner_times), args.rows / min(psycopg_times)
                print(f"{kind:8} {runner_rate:14,.0f} {psycopg_rate:15,.0f} {ratio:7.2f}")
            verdict = "meets" if lowest >= TARGET_RATIO else "misses"
            print(f"lowest ratio {lowest:.2f} {verdict} the target of {TARGET_RATIO}")
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
