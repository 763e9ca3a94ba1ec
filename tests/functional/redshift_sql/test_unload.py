"""UNLOAD to the object store: formats, naming, compression, manifests, overwrite protection."""

from __future__ import annotations

import gzip
import json

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import RedshiftSqlError, RedshiftSqlRunner, UnloadError, UnsupportedSqlError

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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("CSV ADDQUOTES", "You can't use CSV with FIXEDWIDTH or ADDQUOTES."),
        (
            "JSON HEADER",
            "You can't use JSON with DELIMITER, HEADER, FIXEDWIDTH, ADDQUOTES, ESCAPE, or NULL AS.",
        ),
        (
            "JSON DELIMITER ','",
            "You can't use JSON with DELIMITER, HEADER, FIXEDWIDTH, ADDQUOTES, ESCAPE, or NULL AS.",
        ),
        (
            "JSON NULL AS 'x'",
            "You can't use JSON with DELIMITER, HEADER, FIXEDWIDTH, ADDQUOTES, ESCAPE, or NULL AS.",
        ),
        ("MAXFILESIZE 4 MB", "MAXFILESIZE must be a decimal value between 5 MB and 6.2 GB."),
        ("MAXFILESIZE 6.3 GB", "MAXFILESIZE must be a decimal value between 5 MB and 6.2 GB."),
    ],
)
def test_options_redshift_refuses_are_refused(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, options: str, message: str
) -> None:
    """UNLOAD, Parameters (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html): FORMAT "You
    can't use CSV with FIXEDWIDTH or ADDQUOTES ... You can't use JSON with DELIMITER, HEADER,
    FIXEDWIDTH, ADDQUOTES, ESCAPE, or NULL AS"; MAXFILESIZE "a decimal value between 5 MB and 6.2 GB".
    """
    with pytest.raises(RedshiftSqlError) as caught:
        runner.run(conn, f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/r/' {ROLE} {options}")
    assert caught.value.message == message


def test_a_limit_in_the_outer_select_is_refused_a_nested_one_is_not(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """UNLOAD, Usage notes (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html): "The SELECT
    query can't use a LIMIT clause in the outer SELECT"; a nested LIMIT is the documented way."""
    with pytest.raises(RedshiftSqlError, match="can't use a LIMIT clause in the outer SELECT"):
        runner.run(conn, f"UNLOAD ('SELECT id FROM public.sales LIMIT 1') TO 's3://exports/l/' {ROLE}")
    runner.run(
        conn,
        "UNLOAD ('SELECT id FROM (SELECT id FROM public.sales ORDER BY id LIMIT 1)')"
        f" TO 's3://exports/l/' {ROLE} PARALLEL OFF",
    )
    assert body(store, "l/000") == b"1\n"


def test_escape_is_refused_as_not_modelled(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    for options in ("ESCAPE", "CSV ESCAPE"):
        with pytest.raises(UnsupportedSqlError) as caught:
            runner.run(conn, f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/e/' {ROLE} {options}")
        assert caught.value.construct == "UNLOAD ESCAPE"


def test_extension_replaces_the_compression_suffix(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """UNLOAD, EXTENSION (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html): "If you're
    using a compression method such as GZIP, you still have to specify .gz in the extension parameter"."""
    runner.run(
        conn, f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/x/a_' {ROLE} GZIP EXTENSION 'csv'"
    )
    runner.run(
        conn, f"UNLOAD ('SELECT id FROM public.sales') TO 's3://exports/x/b_' {ROLE} GZIP EXTENSION 'csv.gz'"
    )
    assert store.list_keys("exports", "x/") == ["x/a_0000_part_00.csv", "x/b_0000_part_00.csv.gz"]


def test_json_of_zero_rows_writes_no_object(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """UNLOAD, FORMAT JSON (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html): "When zero
    rows are unloaded, Amazon Redshift does not write Amazon S3 objects"."""
    runner.run(conn, f"UNLOAD ('SELECT id FROM public.sales WHERE id < 0') TO 's3://exports/z/' {ROLE} JSON")
    assert store.list_keys("exports", "z/") == []
