"""Each compat function against real PostgreSQL, through statements and through procedure bodies."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from rsetl.redshift_sql import RedshiftSqlRunner, install_compat

pytestmark = pytest.mark.postgres

CASES: list[tuple[str, Any]] = [
    ("NVL(NULL, 'b')", "b"),
    ("NVL(NULL, NULL, 3)", 3),
    ("NVL2(NULL, 'set', 'unset')", "unset"),
    ("NVL2(1, 'set', 'unset')", "set"),
    ("DATEADD(day, 1, '2024-02-28'::date)", dt.datetime(2024, 2, 29)),
    ("DATEADD(month, 1, '2008-01-31'::date)", dt.datetime(2008, 2, 29)),
    ("DATEADD(qtr, -1, '2024-05-15 10:00:00'::timestamp)", dt.datetime(2024, 2, 15, 10)),
    ("DATEADD(h, 36, '2024-01-01'::timestamp)", dt.datetime(2024, 1, 2, 12)),
    ("DATEDIFF(day, '2024-01-01 23:00'::timestamp, '2024-01-02 01:00'::timestamp)", 1),
    ("DATEDIFF(hour, '2024-01-01 10:59'::timestamp, '2024-01-01 11:01'::timestamp)", 1),
    ("DATEDIFF(month, '2023-12-31'::date, '2024-01-01'::date)", 1),
    ("DATEDIFF(year, '2023-12-31'::date, '2024-01-01'::date)", 1),
    ("DATEDIFF(week, '2009-01-01'::date, '2009-12-31'::date)", 52),
    ("DATEDIFF(qtr, '2024-03-31'::date, '2024-04-01'::date)", 1),
    ("DATEDIFF(day, '2024-03-10'::date, '2024-03-01'::date)", -9),
    ("DATEPART(dow, '2024-01-07'::date)", 0.0),
    ("DATE_PART(year, '2024-06-01'::timestamp)", 2024.0),
    ("DATE_TRUNC('week', '2024-01-10'::date)", dt.datetime(2024, 1, 8)),
    ("TRUNC('2024-01-10 13:45:00'::timestamp)", dt.date(2024, 1, 10)),
    ("TRUNC(12.789)", Decimal("12")),
    ("TRUNC(12.789, 1)", Decimal("12.7")),
    ("ADD_MONTHS('2008-02-29'::date, 1)", dt.datetime(2008, 3, 31)),
    ("ADD_MONTHS('2008-01-15'::date, -1)", dt.datetime(2007, 12, 15)),
    ("MONTHS_BETWEEN('1969-03-18'::date, '1969-01-18'::date)", 2.0),
    (
        "CONVERT_TIMEZONE('UTC', 'America/New_York', '2024-01-01 12:00:00'::timestamp)",
        dt.datetime(2024, 1, 1, 7),
    ),
    ("CONVERT_TIMEZONE('Asia/Tokyo', '2024-01-01 00:00:00'::timestamp)", dt.datetime(2024, 1, 1, 9)),
    ("LEN('abc  ')", 5),
    ("DECODE(2, 1, 'one', 2, 'two', 'other')", "two"),
    ("DECODE(9, 1, 'one', 2, 'two', 'other')", "other"),
    ("DECODE(9, 1, 'one')", None),
    ("CHARINDEX('dog', 'fish dog')", 6),
    ("STRTOL('ff', 16)", 255),
    ("STRTOL('-0x1A', 16)", -26),
    ("STRTOL('101', 2)", 5),
    ("CONCAT('a', NULL)", None),
    ("CONCAT('a', 'b')", "ab"),
    ("REGEXP_REPLACE('a-b-c', '-', '+')", "a+b+c"),
    ("REGEXP_REPLACE('a-b-c', '-')", "abc"),
    ("REGEXP_REPLACE('A-a-A', 'a', 'x', 2, 'i')", "A-x-x"),
    ("REGEXP_SUBSTR('a1b22c333', '[0-9]+', 1, 2)", "22"),
    ("JSON_EXTRACT_PATH_TEXT('{\"a\": {\"b\": \"x\"}}', 'a', 'b')", "x"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[case[0] for case in CASES])
def test_compat_function_in_a_statement(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, expression: str, expected: Any
) -> None:
    outcome = runner.run(conn, f"SELECT {expression} AS value")
    assert outcome.rows == [(expected,)]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[case[0] for case in CASES])
def test_compat_function_in_a_procedure_body(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, expression: str, expected: Any
) -> None:
    runner.run(
        conn,
        "CREATE OR REPLACE PROCEDURE public.eval_expression(INOUT result VARCHAR(200)) AS $$\n"
        f"BEGIN\n    result := CAST({expression} AS VARCHAR(200));\nEND;\n$$ LANGUAGE plpgsql",
    )
    direct = runner.run(conn, f"SELECT CAST({expression} AS VARCHAR(200))").rows
    called = runner.run(conn, "CALL public.eval_expression(NULL)").rows
    assert direct is not None and called == [(direct[0][0],)]


def test_getdate_is_a_timestamp_in_whole_seconds(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    outcome = runner.run(conn, "SELECT GETDATE() AS now, SYSDATE AS tx")
    assert outcome.columns is not None
    assert [column.type_name for column in outcome.columns] == ["timestamp", "timestamp"]
    assert outcome.rows is not None
    now, _ = outcome.rows[0]
    assert now.tzinfo is None and now.microsecond == 0


def test_sysdate_is_fixed_for_the_transaction(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    with conn.transaction():
        first = runner.run(conn, "SELECT SYSDATE").rows
        conn.execute("SELECT pg_sleep(0.01)")
        second = runner.run(conn, "SELECT SYSDATE").rows
    assert first == second


def test_listagg_within_group_orders_and_skips_nulls(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, "CREATE TABLE public.words (g INT, w VARCHAR(10))")
    runner.run(conn, "INSERT INTO public.words VALUES (1, 'b'), (1, 'a'), (1, NULL), (2, 'z'), (1, 'a')")
    sql = "SELECT g, LISTAGG(w, ',') WITHIN GROUP (ORDER BY w DESC) FROM public.words GROUP BY g ORDER BY g"
    assert runner.run(conn, sql).rows == [(1, "b,a,a"), (2, "z")]
    distinct = "SELECT LISTAGG(DISTINCT w, '|') WITHIN GROUP (ORDER BY w) FROM public.words WHERE g = 1"
    assert runner.run(conn, distinct).rows == [("a|b",)]


def test_listagg_in_a_procedure_body(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, "CREATE TABLE public.words (w VARCHAR(10))")
    runner.run(conn, "INSERT INTO public.words VALUES ('b'), ('a')")
    runner.run(
        conn,
        "CREATE PROCEDURE public.joined(INOUT result VARCHAR(100)) AS $$ BEGIN "
        "SELECT LISTAGG(w, '-') WITHIN GROUP (ORDER BY w) INTO result FROM public.words; "
        "END; $$ LANGUAGE plpgsql",
    )
    assert runner.run(conn, "CALL public.joined(NULL)").rows == [("a-b",)]


def test_invalid_datepart_is_an_error_naming_it(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="Invalid datepart: fortnight"):
        runner.run(conn, "SELECT DATEADD(fortnight, 1, '2024-01-01'::date)")


def test_strtol_rejects_digits_outside_the_base(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="STRTOL"):
        runner.run(conn, "SELECT STRTOL('19', 8)")


def test_compat_functions_survive_a_changed_search_path(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, "SET search_path TO pg_catalog")
    assert runner.run(
        conn, "SELECT NVL2(1, DATEDIFF(day, '2024-01-01'::date, '2024-01-03'::date), 0)"
    ).rows == [(2,)]


def test_nvl2_resolves_typed_first_arguments(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, "CREATE TABLE public.t (v VARCHAR(5), n INT)")
    runner.run(conn, "INSERT INTO public.t VALUES ('x', NULL)")
    runner.run(
        conn,
        "CREATE PROCEDURE public.p(INOUT result VARCHAR(20)) AS $$ BEGIN "
        "SELECT NVL2(v, 'v set', 'v unset') || '/' || NVL2(n, 'n set', 'n unset') INTO result FROM public.t; "
        "END; $$ LANGUAGE plpgsql",
    )
    assert runner.run(conn, "CALL public.p(NULL)").rows == [("v set/n unset",)]


def test_statement_only_spellings(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, "CREATE TABLE public.n (v INT)")
    runner.run(conn, "INSERT INTO public.n VALUES (1), (1), (2), (NULL)")
    outcome = runner.run(
        conn, "SELECT REPLICATE('ab', 2), APPROXIMATE COUNT(DISTINCT v), MEDIAN(v) FROM public.n"
    )
    assert outcome.rows == [("abab", 2, 1.0)]


def test_install_is_idempotent_and_safe_concurrently(conn: psycopg.Connection) -> None:
    conninfo = psycopg.conninfo.make_conninfo("", **conn.info.get_parameters())
    errors: list[BaseException] = []

    def install() -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as other:
                install_compat(other)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    workers = [threading.Thread(target=install) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert conn.execute("SELECT rsetl_compat.len('abc')").fetchone() == (3,)
