"""UNLOAD to the object store: formats, naming, compression, manifests, overwrite protection."""

from __future__ import annotations

import gzip
import json

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import RedshiftSqlRunner, UnloadError, UnsupportedSqlError

pytestmark = pytest.mark.postgres

ROLE = "IAM_ROLE 'arn:aws:iam::123456789012:role/unload'"


@pytest.fixture(autouse=True)
def data(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, "CREATE TABLE public.sales (id INT, name VARCHAR(20), amount DECIMAL(8, 2))")
    runner.run(conn, "INSERT INTO public.sales VALUES (1, 'a, \"b\"', 1.50), (2, NULL, 2.00), (3, 'c', NULL)")


def body(store: MemoryObjectStore, key: str) -> bytes:
    return store.get_object("exports", key).body


def test_csv_header_parallel_off(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    outcome = runner.run(
        conn,
        "UNLOAD ('SELECT id, name, amount FROM public.sales"
        " WHERE name IS DISTINCT FROM ''zzz'' ORDER BY id')"
        f" TO 's3://exports/out/sales_' {ROLE} FORMAT AS CSV HEADER PARALLEL OFF",
    )
    assert outcome.rows_affected == 3
    assert store.list_keys("exports", "out/") == ["out/sales_000"]
    assert body(store, "out/sales_000") == b'id,name,amount\n1,"a, ""b""",1.50\n2,,2.00\n3,c,\n'


def test_default_text_format_parallel_names_and_gzip(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(
        conn, f"UNLOAD ('SELECT id, name FROM public.sales ORDER BY id') TO 's3://exports/t/' {ROLE} GZIP"
    )
    assert store.list_keys("exports", "t/") == ["t/0000_part_00.gz"]
    assert gzip.decompress(body(store, "t/0000_part_00.gz")) == b'1|a, "b"\n2|\n3|c\n'


def test_manifest_lists_the_files(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(
        conn,
        f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/m/x_' {ROLE}"
        " CSV MANIFEST VERBOSE PARALLEL OFF",
    )
    manifest = json.loads(body(store, "m/x_manifest"))
    assert manifest["entries"] == [{"url": "s3://exports/m/x_000", "meta": {"content_length": 6}}]
    assert manifest["meta"] == {"content_length": 6, "record_count": 3}


def test_unload_then_copy_round_trips(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    # As on Redshift, NULL AS keeps NULL text apart from empty text in the round trip.
    runner.run(
        conn, f"UNLOAD ('SELECT * FROM public.sales') TO 's3://exports/rt/' {ROLE} CSV GZIP NULL AS '\\N'"
    )
    runner.run(conn, "CREATE TABLE public.copy_back (LIKE public.sales)")
    runner.run(conn, "COPY public.copy_back FROM 's3://exports/rt/' CSV GZIP NULL AS '\\N'")
    original = runner.run(conn, "SELECT * FROM public.sales ORDER BY id").rows
    assert runner.run(conn, "SELECT * FROM public.copy_back ORDER BY id").rows == original


def test_existing_files_need_allowoverwrite(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    sql = f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/o/' {ROLE} PARALLEL OFF"
    runner.run(conn, sql)
    with pytest.raises(UnloadError, match="not empty"):
        runner.run(conn, sql)
    runner.run(conn, "DELETE FROM public.sales WHERE id > 1")
    runner.run(conn, sql + " ALLOWOVERWRITE")
    assert body(store, "o/000") == b"1\n"


def test_json_lines(runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore) -> None:
    runner.run(
        conn, f"UNLOAD ('SELECT id, name FROM public.sales ORDER BY id') TO 's3://exports/j/' {ROLE} JSON"
    )
    lines = body(store, "j/0000_part_00").decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 1, "name": 'a, "b"'},
        {"id": 2, "name": None},
        {"id": 3, "name": "c"},
    ]


def test_query_is_translated(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(
        conn,
        f"UNLOAD ('SELECT NVL(name, ''none'') AS n, DATEADD(day, id, ''2024-01-01''::date)::date AS d"
        f" FROM public.sales ORDER BY id') TO 's3://exports/q/' {ROLE} CSV PARALLEL OFF",
    )
    assert body(store, "q/000") == b'"a, ""b""",2024-01-02\nnone,2024-01-03\nc,2024-01-04\n'


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("UNLOAD ('SELECT 1') TO 's3://exports/p/' FORMAT AS PARQUET", "UNLOAD PARQUET"),
        ("UNLOAD ('DELETE FROM public.sales') TO 's3://exports/p/'", "UNLOAD of anything but a SELECT query"),
        ("UNLOAD ('SELECT 1') TO 's3://exports/p/' KMS_KEY_ID 'k' ENCRYPTED", "UNLOAD option KMS_KEY_ID"),
        ("UNLOAD ('SELECT 1') TO 's3://exports/p/' PARTITION BY (a)", "UNLOAD option PARTITION BY"),
    ],
)
def test_unsupported_unload_is_named(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, sql: str, construct: str
) -> None:
    with pytest.raises(UnsupportedSqlError) as caught:
        runner.run(conn, sql)
    assert caught.value.construct == construct
