"""COPY from the object store: formats, compression, prefixes, manifests and load errors."""

from __future__ import annotations

import bz2
import gzip
import json
import re

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import (
    LoadError,
    RedshiftSqlError,
    RedshiftSqlRunner,
    S3AccessError,
    UnsupportedSqlError,
)

pytestmark = pytest.mark.postgres

ROLE = "IAM_ROLE 'arn:aws:iam::123456789012:role/load'"


@pytest.fixture
def table(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> str:
    runner.run(
        conn,
        "CREATE TABLE public.items (id INTEGER NOT NULL, name VARCHAR(20), price DECIMAL(8, 2), seen DATE)"
        " DISTSTYLE EVEN",
    )
    return "public.items"


def rows(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> list[tuple]:
    return (
        runner.run(conn, "SELECT id, name, price::varchar, seen::varchar FROM public.items ORDER BY id").rows
        or []
    )


@pytest.mark.usefixtures("table")
def test_csv_with_header_loads_and_reports_rows(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "in/a.csv", b'id,name,price,seen\n1,"a, b",1.50,2024-01-02\n2,,,\n3,"",2,\n')
    outcome = runner.run(conn, f"COPY public.items FROM 's3://landing/in/a.csv' {ROLE} CSV IGNOREHEADER 1")
    assert outcome.rows_affected == 3
    # Empty unquoted text loads as '' (not NULL) on Redshift; other empty fields load as NULL.
    assert rows(runner, conn) == [
        (1, "a, b", "1.50", "2024-01-02"),
        (2, "", None, None),
        (3, "", "2.00", None),
    ]


@pytest.mark.usefixtures("table")
def test_emptyasnull_and_null_as(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "in/a.csv", b"1,,1\n2,NA,2\n")
    runner.run(
        conn, "COPY public.items (id, name, price) FROM 's3://landing/in/a.csv' FORMAT AS CSV EMPTYASNULL"
    )
    store.put_object("landing", "in/b.csv", b"3|NA|NA\n")
    runner.run(
        conn, "COPY public.items (id, name, price) FROM 's3://landing/in/b.csv' DELIMITER '|' NULL AS 'NA'"
    )
    assert rows(runner, conn) == [(1, None, "1.00", None), (2, "NA", "2.00", None), (3, None, None, None)]


@pytest.mark.usefixtures("table")
def test_gzip_multi_member_and_bzip2(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "in/a.csv.gz", gzip.compress(b"id,name\n1,x\n") + gzip.compress(b"2,y\n"))
    runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/in/a.csv.gz' CSV GZIP IGNOREHEADER 1")
    store.put_object("landing", "in/b.csv.bz2", bz2.compress(b"3,z\n"))
    runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/in/b.csv.bz2' CSV BZIP2")
    assert [row[:2] for row in rows(runner, conn)] == [(1, "x"), (2, "y"), (3, "z")]


@pytest.mark.usefixtures("table")
def test_a_prefix_loads_every_matching_key(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """The FROM key is a prefix: every object whose key starts with it is loaded.

    Loading data from Amazon S3 (https://docs.aws.amazon.com/redshift/latest/dg/t_loading-tables-from-s3.html):
    "copy <table_name> from 's3://<bucket_name>/<object_prefix>'"; "If no Amazon S3 objects with
    the key prefix 'venue' exist, the load fails." A prefix "part" matches "partition/..." too.
    """
    store.put_object("landing", "part/0001.csv", b"1,a\n")
    store.put_object("landing", "part/0002.csv", b"2,b\n")
    store.put_object("landing", "partition/0003.csv", b"3,c\n")
    store.put_object("landing", "other/0004.csv", b"4,d\n")
    outcome = runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/part' CSV")
    assert outcome.rows_affected == 3
    assert [row[0] for row in rows(runner, conn)] == [1, 2, 3]


@pytest.mark.usefixtures("table")
def test_manifest_lists_files_and_skips_missing_optional_ones(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """A manifest lists the files to load; a missing `mandatory` one fails the load, others are skipped.

    Using a manifest to specify data files
    (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html):
    "The optional mandatory flag specifies whether COPY should return an error if the file is not
    found ... Regardless of any mandatory settings, COPY will terminate if no files are found."
    """
    store.put_object("landing", "m/x.csv", b"1,a\n")
    manifest = {
        "entries": [
            {"url": "s3://landing/m/x.csv", "mandatory": True},
            {"url": "s3://landing/m/gone.csv", "mandatory": False},
        ]
    }
    store.put_object("landing", "m/load.manifest", json.dumps(manifest).encode())
    runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/m/load.manifest' CSV MANIFEST")
    assert [row[0] for row in rows(runner, conn)] == [1]
    manifest["entries"][1]["mandatory"] = True
    store.put_object("landing", "m/strict.manifest", json.dumps(manifest).encode())
    with pytest.raises(S3AccessError, match=re.escape("mandatory file s3://landing/m/gone.csv")):
        runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/m/strict.manifest' CSV MANIFEST")
    store.put_object(
        "landing",
        "m/none.manifest",
        json.dumps({"entries": [manifest["entries"][1] | {"mandatory": False}]}).encode(),
    )
    with pytest.raises(S3AccessError, match="none of the files it lists was found"):
        runner.run(conn, "COPY public.items FROM 's3://landing/m/none.manifest' CSV MANIFEST")


@pytest.mark.usefixtures("table")
def test_json_auto(runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore) -> None:
    body = b'{"id": 1, "name": "a", "price": 2.5, "extra": true}\n{"id": 2,\n "seen": "2024-05-06"}\n'
    store.put_object("landing", "j/a.json", body)
    outcome = runner.run(conn, "COPY public.items FROM 's3://landing/j/a.json' FORMAT AS JSON 'auto'")
    assert outcome.rows_affected == 2
    assert rows(runner, conn) == [(1, "a", "2.50", None), (2, None, None, "2024-05-06")]


@pytest.mark.usefixtures("table")
def test_json_error_names_the_line_of_the_record(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "j/a.json", b'{"id": 1}\n{"id": 2,\n "price": 1}\n{"id": "x"}\n')
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items FROM 's3://landing/j/a.json' JSON 'auto'")
    assert (caught.value.file, caught.value.line, caught.value.column) == ("s3://landing/j/a.json", 4, "id")


@pytest.mark.usefixtures("table")
def test_bad_row_fails_the_whole_copy_naming_file_line_and_column(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "bad/1.csv", b"h1,h2\nh3,h4\n1,a,1.00\n2,b,2.00\n")
    store.put_object("landing", "bad/2.csv", b"h1,h2\nh3,h4\n3,c,3.00\n4,d,four\n")
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items (id, name, price) FROM 's3://landing/bad/' CSV IGNOREHEADER 2")
    error = caught.value
    assert (error.file, error.line, error.column) == ("s3://landing/bad/2.csv", 4, "price")
    assert "Load into table 'public.items' failed" in str(error)
    assert "s3://landing/bad/2.csv, line 4, column price" in str(error)
    assert rows(runner, conn) == []
    recorded = runner.run(
        conn,
        "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(raw_line), TRIM(raw_field_value), err_reason"
        " FROM stl_load_errors",
    ).rows
    assert recorded is not None and len(recorded) == 1
    assert recorded[0][:5] == ("s3://landing/bad/2.csv", 4, "price", "4,d,four", "four")
    assert "invalid input syntax" in recorded[0][5]


@pytest.mark.usefixtures("table")
def test_not_null_violation_is_a_load_error(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "n.csv", b"1,a\n,b\n")
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/n.csv' CSV")
    assert caught.value.line == 2
    assert "not-null" in caught.value.reason


@pytest.mark.usefixtures("table")
def test_load_error_inside_a_transaction_aborts_it(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "bad.csv", b"x,a\n")
    runner.run(conn, "BEGIN")
    runner.run(conn, "INSERT INTO public.items (id) VALUES (1)")
    with pytest.raises(LoadError):
        runner.run(conn, "COPY public.items (id, name) FROM 's3://landing/bad.csv' CSV")
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        runner.run(conn, "SELECT 1")
    runner.run(conn, "ROLLBACK")
    assert rows(runner, conn) == []


def test_identity_columns_are_generated_unless_explicit_ids(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(conn, "CREATE TABLE public.ids (id BIGINT IDENTITY(100, 10), v VARCHAR(5))")
    store.put_object("landing", "ids.csv", b"a\nb\n")
    runner.run(conn, "COPY public.ids FROM 's3://landing/ids.csv' CSV")
    store.put_object("landing", "explicit.csv", b"7,c\n")
    runner.run(conn, "COPY public.ids FROM 's3://landing/explicit.csv' CSV EXPLICIT_IDS")
    assert runner.run(conn, "SELECT id, v FROM public.ids ORDER BY v").rows == [
        (100, "a"),
        (110, "b"),
        (7, "c"),
    ]


def test_pipe_delimited_text_keeps_backslashes_and_quotes(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(conn, "CREATE TABLE public.t (a VARCHAR(20), b INT)")
    store.put_object("landing", "t.txt", b'C:\\dir "q"|1\nx|\n')
    runner.run(conn, "COPY public.t FROM 's3://landing/t.txt'")
    assert runner.run(conn, "SELECT a, b FROM public.t ORDER BY a").rows == [('C:\\dir "q"', 1), ("x", None)]


def test_escape_option_uses_backslash_escapes(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(conn, "CREATE TABLE public.t (a VARCHAR(20), b INT)")
    store.put_object("landing", "t.txt", b"a\\|b|1\n")
    runner.run(conn, "COPY public.t FROM 's3://landing/t.txt' DELIMITER '|' ESCAPE")
    assert runner.run(conn, "SELECT a, b FROM public.t").rows == [("a|b", 1)]


@pytest.mark.usefixtures("table")
def test_missing_prefix_and_bucket(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    with pytest.raises(S3AccessError, match="The specified S3 prefix 'nothing/here' does not exist"):
        runner.run(conn, "COPY public.items FROM 's3://landing/nothing/here' CSV")
    with pytest.raises(S3AccessError, match="NoSuchBucket"):
        runner.run(conn, "COPY public.items FROM 's3://missing-bucket/x.manifest' CSV MANIFEST")


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("options", "construct"),
    [
        ("FORMAT AS PARQUET", "COPY option PARQUET"),
        ("CSV MAXERROR 10", "COPY MAXERROR above 0"),
        ("CSV DATEFORMAT 'DD.MM.YYYY'", "COPY DATEFORMAT 'DD.MM.YYYY'"),
        ("CSV TRUNCATECOLUMNS", "COPY option TRUNCATECOLUMNS"),
        ("JSON 'noshred'", "COPY JSON 'noshred'"),
    ],
)
def test_unsupported_options_are_named(
    runner: RedshiftSqlRunner,
    conn: psycopg.Connection,
    store: MemoryObjectStore,
    options: str,
    construct: str,
) -> None:
    store.put_object("landing", "x.csv", b"1\n")
    with pytest.raises(UnsupportedSqlError) as caught:
        runner.run(conn, f"COPY public.items FROM 's3://landing/x.csv' {options}")
    assert caught.value.construct == construct


@pytest.mark.usefixtures("table")
def test_accepted_formats_and_ignored_options(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "d.csv", b"1,2024-02-03\n")
    runner.run(
        conn,
        "COPY public.items (id, seen) FROM 's3://landing/d.csv'"
        " CREDENTIALS 'aws_iam_role=arn:x' REGION 'us-east-1' CSV DATEFORMAT 'auto' TIMEFORMAT 'auto'"
        " COMPUPDATE OFF STATUPDATE OFF ENCODING UTF8",
    )
    assert rows(runner, conn) == [(1, None, None, "2024-02-03")]


@pytest.mark.usefixtures("table")
def test_json_with_a_jsonpaths_file(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    paths = {"jsonpaths": ["$.id", "$['item']['label']", "$.prices[1]", '$["seen on"]']}
    store.put_object("landing", "j/paths.json", json.dumps(paths).encode())
    body = b'{"id": 1, "item": {"label": "a"}, "prices": [9, 2.5], "seen on": "2024-05-06"}\n{"id": 2}\n'
    store.put_object("landing", "j/data.json", body)
    runner.run(conn, "COPY public.items FROM 's3://landing/j/data.json' JSON 's3://landing/j/paths.json'")
    assert rows(runner, conn) == [(1, "a", "2.50", "2024-05-06"), (2, None, None, None)]


@pytest.mark.usefixtures("table")
def test_jsonpaths_must_match_the_columns(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "j/paths.json", b'{"jsonpaths": ["$.id"]}')
    store.put_object("landing", "j/data.json", b'{"id": 1}')
    with pytest.raises(RedshiftSqlError, match="Number of jsonpaths and the number of columns should match"):
        runner.run(conn, "COPY public.items FROM 's3://landing/j/data.json' JSON 's3://landing/j/paths.json'")


@pytest.mark.usefixtures("table")
def test_malformed_json_is_a_load_error_with_its_line(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "j/bad.json", b'{"id": 1}\n\n{"id": 2,,}\n')
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items FROM 's3://landing/j/bad.json' JSON 'auto'")
    assert (caught.value.line, caught.value.column) == (3, None)
    assert "invalid JSON" in caught.value.reason
    assert rows(runner, conn) == []
    recorded = runner.run(conn, "SELECT line_number, TRIM(raw_line) FROM stl_load_errors").rows
    assert recorded == [(3, '{"id": 2,,}')]


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize("compression", ["GZIP", "BZIP2"])
def test_a_file_that_is_not_compressed_is_a_load_error(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, compression: str
) -> None:
    store.put_object("landing", "plain.csv", b"1,a\n")
    with pytest.raises(LoadError, match=f"not valid {compression} data") as caught:
        runner.run(conn, f"COPY public.items (id, name) FROM 's3://landing/plain.csv' CSV {compression}")
    assert caught.value.file == "s3://landing/plain.csv"
    assert rows(runner, conn) == []


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize("gzipped", [False, True])
def test_excess_decimals_are_truncated_unless_roundec(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, gzipped: bool
) -> None:
    data = b"id,price\n1,20.259\n2,1.5e-2\n3,7.10\n"
    store.put_object("landing", "dec/a.csv", gzip.compress(data) if gzipped else data)
    option = " GZIP" if gzipped else ""
    outcome = runner.run(
        conn, f"COPY public.items (id, price) FROM 's3://landing/dec/a.csv' CSV IGNOREHEADER 1{option}"
    )
    assert outcome.rows_affected == 3
    runner.run(
        conn,
        f"COPY public.items (id, price) FROM 's3://landing/dec/a.csv' CSV IGNOREHEADER 1 ROUNDEC{option}",
    )
    prices = runner.run(conn, "SELECT id, price::varchar FROM public.items ORDER BY id, price").rows
    assert prices == [(1, "20.25"), (1, "20.26"), (2, "0.01"), (2, "0.02"), (3, "7.10"), (3, "7.10")]


@pytest.mark.usefixtures("table")
def test_decimal_overflow_after_truncation_names_the_line(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "dec/b.csv", b"id,price\n1,1.001\n2,1234567.001\n")
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items (id, price) FROM 's3://landing/dec/b.csv' CSV IGNOREHEADER 1")
    assert (caught.value.line, caught.value.column) == (3, "price")
    assert rows(runner, conn) == []


@pytest.mark.usefixtures("table")
def test_json_numbers_are_truncated_too(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "dec/c.json", b'{"id": 1, "price": 2.559}\n{"id": 2, "price": "3.999"}\n')
    runner.run(conn, "COPY public.items FROM 's3://landing/dec/c.json' JSON 'auto'")
    assert runner.run(conn, "SELECT price::varchar FROM public.items ORDER BY id").rows == [
        ("2.55",),
        ("3.99",),
    ]


CONVERSION_DOC = "https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html"


@pytest.fixture
def mixed(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> str:
    runner.run(conn, "CREATE TABLE public.mixed (line INT, txt VARCHAR(10), num INT, day DATE)")
    return "public.mixed"


def _mixed(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> list[tuple]:
    return runner.run(conn, "SELECT line, txt, num, day::varchar FROM public.mixed ORDER BY line").rows or []


# line 1: empty fields; 2: quoted empty text; 3: blank fields; 4: Redshift's default NULL string.
FIELDS = b'1,,,\n2,"",,\n3,   ,  ,\t\n4,\\N,\\N,\\N\n'


@pytest.mark.usefixtures("mixed")
def test_csv_empty_and_blank_fields_load_as_redshift_loads_them(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """Empty CHAR/VARCHAR fields load as '', blank ones as they are; other types load NULL.

    Data conversion parameters, EMPTYASNULL and BLANKSASNULL
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html):
    "Empty fields for other data types, such as INT, are always loaded with NULL"; "Blank fields for
    other data types, such as INT, are always loaded with NULL"; NULL AS: "The default null_string
    is '\\N'".
    """
    store.put_object("landing", "f.csv", FIELDS)
    runner.run(conn, "COPY public.mixed FROM 's3://landing/f.csv' CSV")
    assert _mixed(runner, conn) == [
        (1, "", None, None),
        (2, "", None, None),
        (3, "   ", None, None),
        (4, None, None, None),
    ]


@pytest.mark.usefixtures("mixed")
@pytest.mark.parametrize(
    ("options", "texts"),
    [
        ("EMPTYASNULL", [None, None, "   ", None]),
        ("BLANKSASNULL", ["", "", None, None]),
        ("EMPTYASNULL BLANKSASNULL", [None, None, None, None]),
    ],
)
def test_emptyasnull_and_blanksasnull_make_text_fields_null(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, options: str, texts: list
) -> None:
    """EMPTYASNULL loads empty CHAR/VARCHAR fields as NULL, BLANKSASNULL blank ones (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html).

    "EMPTYASNULL and NULL AS '' (empty string) produce the same behavior." An empty quoted field
    ("") is an empty field too: this model reads it as EMPTYASNULL's NULL, the stricter reading.
    """
    store.put_object("landing", "f.csv", FIELDS)
    runner.run(conn, f"COPY public.mixed FROM 's3://landing/f.csv' CSV {options}")
    assert [row[1] for row in _mixed(runner, conn)] == texts
    assert [row[2:] for row in _mixed(runner, conn)] == [(None, None)] * 4


@pytest.mark.usefixtures("mixed")
def test_delimited_text_follows_the_same_rules(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "f.txt", b"1|||\n2| | |\n3|\\N|\\N|\\N\n")
    runner.run(conn, "COPY public.mixed FROM 's3://landing/f.txt' BLANKSASNULL")
    assert _mixed(runner, conn) == [(1, "", None, None), (2, None, None, None), (3, None, None, None)]


def test_empty_key_fields_fail_a_not_null_column_with_emptyasnull(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    """With EMPTYASNULL BLANKSASNULL an empty or blank key is NULL, so a NOT NULL key rejects the file.

    Data conversion parameters, NULL AS (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html):
    "If you attempt to load nulls into a column defined as NOT NULL, the COPY command will fail."
    """
    runner.run(conn, "CREATE TABLE public.keyed (k VARCHAR(10) NOT NULL, v INT)")
    for body, line in ((b"k\na,1\n,2\n", 3), (b'k\na,1\n" ",2\n', 3), (b'k\n"",1\n', 2)):
        store.put_object("landing", "k.csv", body)
        with pytest.raises(LoadError) as caught:
            runner.run(
                conn,
                "COPY public.keyed FROM 's3://landing/k.csv' CSV IGNOREHEADER 1 EMPTYASNULL BLANKSASNULL",
            )
        assert (caught.value.line, caught.value.column) == (line, "k")
        assert caught.value.reason == "Missing data for not-null field"
        assert runner.run(conn, "SELECT count(*) FROM public.keyed").rows == [(0,)]
    store.put_object("landing", "k.csv", b"k\n,1\n")
    runner.run(conn, "COPY public.keyed FROM 's3://landing/k.csv' CSV IGNOREHEADER 1")
    assert runner.run(conn, "SELECT k, v FROM public.keyed").rows == [("", 1)]


@pytest.mark.usefixtures("mixed")
def test_a_bad_value_in_a_staged_load_names_its_line_and_column(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    store.put_object("landing", "f.csv", b"h\n1,  ,1,\n2,a,x,\n3,b,2,2024-13-40\n")
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.mixed FROM 's3://landing/f.csv' CSV IGNOREHEADER 1")
    assert (caught.value.line, caught.value.column) == (3, "num")
    assert 'invalid input syntax for type integer: "x"' in caught.value.reason
    assert _mixed(runner, conn) == []


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("options", "construct"),
    [
        ("CSV FILLRECORD", "COPY option FILLRECORD"),
        ("CSV REMOVEQUOTES", "COPY option REMOVEQUOTES"),
        ("CSV ACCEPTINVCHARS", "COPY option ACCEPTINVCHARS"),
        ("CSV TRIMBLANKS", "COPY option TRIMBLANKS"),
        ("CSV IGNOREBLANKLINES", "COPY option IGNOREBLANKLINES"),
        ("CSV ACCEPTANYDATE", "COPY option ACCEPTANYDATE"),
        ("FIXEDWIDTH 'a:1'", "COPY option FIXEDWIDTH"),
        ("JSON 'auto' EMPTYASNULL", "COPY JSON with EMPTYASNULL"),
    ],
)
def test_options_the_layer_cannot_honour_are_named(
    runner: RedshiftSqlRunner,
    conn: psycopg.Connection,
    store: MemoryObjectStore,
    options: str,
    construct: str,
) -> None:
    """Options of Data conversion parameters
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html) that the
    layer does not model are refused by name rather than ignored."""
    store.put_object("landing", "x.csv", b"1\n")
    with pytest.raises(UnsupportedSqlError) as caught:
        runner.run(conn, f"COPY public.items FROM 's3://landing/x.csv' {options}")
    assert caught.value.construct == construct


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("CSV ESCAPE", "CSV can't be used with FIXEDWIDTH, REMOVEQUOTES, or ESCAPE"),
        ("QUOTE AS '\"'", "The QUOTE parameter can be used only with the CSV parameter"),
    ],
)
def test_option_combinations_redshift_refuses_are_refused(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, options: str, message: str
) -> None:
    """Data format parameters, CSV and QUOTE
    (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html)."""
    store.put_object("landing", "x.csv", b"1\n")
    with pytest.raises(RedshiftSqlError) as caught:
        runner.run(conn, f"COPY public.items FROM 's3://landing/x.csv' {options}")
    assert caught.value.message == message


@pytest.mark.usefixtures("mixed")
@pytest.mark.parametrize(
    "body",
    [b"1,x,\t,\n", b"1,x,\x0b,\n", b'1,x,5,\n2," ",\t,\n', b'1,"\t",,\n', b"\t,x,1,\n"],
    ids=["tab", "vertical-tab", "quoted-space-then-tab", "quoted-tab", "line-start"],
)
def test_every_kind_of_blank_field_is_found(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore, body: bytes
) -> None:
    """A blank field of any white space, quoted or not, anywhere in a record, loads as Redshift loads it."""
    store.put_object("landing", "b.csv", body)
    runner.run(conn, "COPY public.mixed FROM 's3://landing/b.csv' CSV BLANKSASNULL")
    loaded = runner.run(conn, "SELECT line, txt, num FROM public.mixed ORDER BY line NULLS FIRST").rows or []
    assert all(txt is None or txt.strip() for _, txt, _ in loaded)
    assert len(loaded) == body.count(b"\n")


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("body", "reason", "code"),
    [
        (b"1,a,1.00,2024-01-01,extra\n", "Extra column(s) found", 1202),
        (b"1,a\n", "Delimiter not found", 1214),
        (b",a,1.00,2024-01-01\n", "Missing data for not-null field", 1213),
    ],
)
def test_record_shape_errors_carry_redshifts_reason_and_code(
    runner: RedshiftSqlRunner,
    conn: psycopg.Connection,
    store: MemoryObjectStore,
    body: bytes,
    reason: str,
    code: int,
) -> None:
    """Load error reference (https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html):
    1202 "Input data had more columns than were defined in the DDL", 1213 "A field specified as NOT
    NULL contained no data", 1214 "Delimiter not found"."""
    store.put_object("landing", "s.csv", body)
    with pytest.raises(LoadError) as caught:
        runner.run(conn, "COPY public.items FROM 's3://landing/s.csv' CSV")
    assert (caught.value.reason, caught.value.code, caught.value.line) == (reason, code, 1)
    recorded = runner.run(conn, "SELECT err_code, TRIM(err_reason) FROM stl_load_errors").rows
    assert recorded == [(code, reason)]
