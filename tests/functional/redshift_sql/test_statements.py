"""Statement rewrites, parameters and result metadata against real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import ParameterError, RedshiftSqlRunner, UnsupportedSqlError

pytestmark = pytest.mark.postgres

DDL = """
CREATE TABLE IF NOT EXISTS public.events (
    event_id    BIGINT IDENTITY(1, 1) NOT NULL ENCODE az64,
    kind        VARCHAR(16) NOT NULL ENCODE bytedict DISTKEY,
    note        VARCHAR ENCODE zstd,
    amount      DECIMAL ENCODE az64,
    body        VARCHAR(MAX),
    created_at  TIMESTAMP DEFAULT GETDATE() ENCODE RAW SORTKEY,
    PRIMARY KEY (event_id),
    UNIQUE (kind)
)
BACKUP NO
DISTSTYLE KEY
INTERLEAVED SORTKEY (kind, created_at)
"""


def column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    ).fetchall()
    return dict(rows)


def test_create_table_attributes_and_redshift_type_defaults(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, DDL)
    runner.run(conn, DDL)
    assert column_types(conn, "public.events") == {
        "event_id": "bigint",
        "kind": "character varying(16)",
        "note": "character varying(256)",
        "amount": "numeric(18,0)",
        "body": "character varying(65535)",
        "created_at": "timestamp without time zone",
    }
    runner.run(conn, "INSERT INTO public.events (kind, amount) VALUES ('a', 1.6), ('a', 2)")
    rows = runner.run(
        conn, "SELECT event_id, kind, amount, created_at IS NOT NULL FROM public.events ORDER BY 1"
    ).rows
    # Declared keys are not enforced (as on Redshift): the duplicate kind is accepted.
    assert rows == [(1, "a", Decimal("2"), True), (2, "a", Decimal("2"), True)]


def test_identity_rejects_explicit_values_like_redshift(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, DDL)
    with pytest.raises(psycopg.errors.GeneratedAlways):
        runner.run(conn, "INSERT INTO public.events (event_id, kind) VALUES (5, 'x')")


def test_temp_table_like(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, DDL)
    runner.run(conn, "CREATE TEMP TABLE events_batch (LIKE public.events)")
    runner.run(conn, "INSERT INTO events_batch (event_id, kind) VALUES (9, 'b')")
    assert runner.run(conn, "SELECT event_id, kind FROM events_batch").rows == [(9, "b")]
    with pytest.raises(psycopg.errors.NotNullViolation):
        runner.run(conn, "INSERT INTO events_batch (event_id) VALUES (10)")


def test_materialized_view_lifecycle(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, DDL)
    runner.run(
        conn,
        "CREATE MATERIALIZED VIEW public.mv_kinds BACKUP NO DISTSTYLE ALL SORTKEY (kind) AUTO REFRESH NO AS"
        " SELECT kind, COUNT(*) AS n FROM public.events GROUP BY kind",
    )
    runner.run(conn, "INSERT INTO public.events (kind) VALUES ('z')")
    assert runner.run(conn, "SELECT kind, n FROM public.mv_kinds").rows == []
    runner.run(conn, "REFRESH MATERIALIZED VIEW public.mv_kinds")
    assert runner.run(conn, "SELECT kind, n FROM public.mv_kinds").rows == [("z", 1)]
    with pytest.raises(UnsupportedSqlError, match="AUTO REFRESH YES"):
        runner.run(conn, "CREATE MATERIALIZED VIEW public.mv2 AUTO REFRESH YES AS SELECT 1 AS one")


def test_lock_and_maintenance_statements(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, DDL)
    runner.run(conn, "BEGIN")
    runner.run(conn, "LOCK public.events")
    mode = conn.execute(
        "SELECT mode FROM pg_locks WHERE relation = 'public.events'::regclass AND pid = pg_backend_pid()"
    ).fetchall()
    runner.run(conn, "END")
    assert ("AccessExclusiveLock",) in mode
    assert runner.run(conn, "VACUUM DELETE ONLY public.events TO 75 PERCENT").rows_affected == 0
    assert runner.run(conn, "ANALYZE public.events").columns is None
    runner.run(conn, "SET query_group TO 'etl'")
    runner.run(conn, "SET statement_timeout TO 60000")
    assert runner.run(conn, "SHOW statement_timeout").rows == [("1min",)]


def test_procedure_with_ddl_lock_and_temp_table(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, DDL)
    runner.run(
        conn,
        """
        CREATE OR REPLACE PROCEDURE public.sp_rollup(p_since DATE, INOUT p_count BIGINT)
        AS $$
        DECLARE
            v_cutoff TIMESTAMP;
        BEGIN
            LOCK public.events;
            v_cutoff := DATEADD(day, -1, p_since);
            CREATE TEMP TABLE rollup_tmp (kind VARCHAR(16) ENCODE zstd, n BIGINT) DISTSTYLE EVEN;
            INSERT INTO rollup_tmp SELECT kind, COUNT(*) FROM public.events
            WHERE created_at >= v_cutoff GROUP BY kind;
            SELECT NVL(SUM(n), 0) INTO p_count FROM rollup_tmp;
            DROP TABLE rollup_tmp;
        END;
        $$ LANGUAGE plpgsql
        """,
    )
    runner.run(conn, "INSERT INTO public.events (kind) VALUES ('a'), ('b')")
    assert runner.run(conn, "CALL public.sp_rollup(:since, NULL)", {"since": "2000-01-01"}).rows == [(2,)]


def test_sql_udf_body_is_translated(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(
        conn,
        "CREATE OR REPLACE FUNCTION public.f_days(TIMESTAMP, TIMESTAMP) RETURNS BIGINT STABLE AS $$"
        " SELECT DATEDIFF(day, $1, $2) $$ LANGUAGE sql",
    )
    assert runner.run(conn, "SELECT public.f_days('2024-01-01', '2024-01-05')").rows == [(4,)]


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        (
            "CREATE FUNCTION f(a INT) RETURNS INT IMMUTABLE AS $$ return a $$ LANGUAGE plpythonu",
            "routines in LANGUAGE plpythonu",
        ),
        (
            "CREATE PROCEDURE p() NONATOMIC AS $$ BEGIN END; $$ LANGUAGE plpgsql",
            "NONATOMIC stored procedures",
        ),
        ("CREATE TABLE g (shape GEOMETRY)", "data type GEOMETRY"),
        ("ANALYZE COMPRESSION public.events", "ANALYZE COMPRESSION"),
        (
            "CREATE PROCEDURE p() AS $$ BEGIN COPY t FROM 's3://b/k'; END; $$ LANGUAGE plpgsql",
            "COPY inside a stored procedure",
        ),
        (
            "CREATE TABLE t (a INT) DISTKEY(a) IDENTITY(seed)",
            "IDENTITY column options other than IDENTITY(seed, step)",
        ),
    ],
)
def test_unsupported_constructs_are_named(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, sql: str, construct: str
) -> None:
    with pytest.raises(UnsupportedSqlError) as caught:
        runner.run(conn, sql)
    assert caught.value.construct == construct
    assert construct in str(caught.value)


def test_parameters_are_bound_as_typed_literals(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    outcome = runner.run(
        conn,
        "SELECT :day::date + 1 AS next_day, :n * 2 AS twice, :text AS echoed, 'x:y' AS literal",
        {"day": "2024-02-28", "n": "21", "text": "it's"},
    )
    assert outcome.rows == [(dt.date(2024, 2, 29), 42, "it's", "x:y")]


@pytest.mark.parametrize("value", ["it\\'s", "ends with \\", "x\\'); DROP TABLE etl_victim; --", "\\\\'\\"])
def test_a_parameter_is_a_value_whatever_its_backslashes_and_quotes(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, value: str
) -> None:
    """The Data API binds `Parameters` as values ("Passing SQL statement parameters",
    https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-calling.html): a value never becomes SQL,
    although Redshift's dialect reads a backslash in a literal as an escape."""
    conn.execute("CREATE TABLE IF NOT EXISTS public.etl_victim (a INT)")
    outcome = runner.run(conn, "SELECT :text AS echoed, LEN(:text) AS n", {"text": value})
    assert outcome.rows == [(value, len(value))]
    assert conn.execute("SELECT to_regclass('public.etl_victim') IS NOT NULL").fetchone() == (True,)


def test_parameter_errors_name_the_parameter(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    with pytest.raises(ParameterError, match="parameter missing is referenced but has no value"):
        runner.run(conn, "SELECT :missing", {})
    with pytest.raises(ParameterError, match="parameter spare is supplied but not used"):
        runner.run(conn, "SELECT :used", {"used": "1", "spare": "2"})


def test_several_statements_return_the_last_result(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    outcome = runner.run(
        conn,
        "CREATE TABLE public.t (a INT); INSERT INTO public.t VALUES (1), (2); SELECT COUNT(*) FROM public.t;",
    )
    assert outcome.rows == [(2,)]


def test_rows_affected_and_column_metadata(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(conn, DDL)
    inserted = runner.run(conn, "INSERT INTO public.events (kind, note) VALUES ('a', 'n1'), ('b', NULL)")
    assert inserted.rows_affected == 2 and inserted.columns is None
    assert runner.run(conn, "UPDATE public.events SET note = 'x' WHERE kind = 'b'").rows_affected == 1
    outcome = runner.run(
        conn,
        "SELECT event_id, kind, amount, created_at, CAST(1.5 AS FLOAT8) AS f, TRUE AS ok, 'lit' AS s,"
        " CAST('c' AS CHAR(3)) AS c FROM public.events LIMIT 1",
    )
    assert outcome.columns is not None
    described = [
        (c.name, c.type_name, c.precision, c.scale, c.nullable, c.schema_name, c.table_name, c.is_signed)
        for c in outcome.columns
    ]
    assert described == [
        ("event_id", "int8", 19, 0, 0, "public", "events", True),
        ("kind", "varchar", 16, 0, 0, "public", "events", False),
        ("amount", "numeric", 18, 0, 1, "public", "events", True),
        ("created_at", "timestamp", 29, 0, 1, "public", "events", False),
        ("f", "float8", 17, 0, 1, "", "", True),
        ("ok", "bool", 1, 0, 1, "", "", False),
        ("s", "varchar", 0, 0, 1, "", "", False),
        ("c", "bpchar", 3, 0, 1, "", "", False),
    ]


def test_merge_and_late_binding_view(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    runner.run(
        conn,
        "CREATE TABLE public.target (k INT, v VARCHAR(5)); CREATE TABLE public.src (k INT, v VARCHAR(5))",
    )
    runner.run(
        conn,
        "INSERT INTO public.target VALUES (1, 'old'); INSERT INTO public.src VALUES (1, 'new'), (2, 'add')",
    )
    runner.run(
        conn,
        "MERGE INTO public.target USING public.src ON target.k = src.k"
        " WHEN MATCHED THEN UPDATE SET v = src.v WHEN NOT MATCHED THEN INSERT VALUES (src.k, src.v)",
    )
    runner.run(conn, "CREATE VIEW public.v_target AS SELECT k, v FROM public.target WITH NO SCHEMA BINDING")
    assert runner.run(conn, "SELECT k, v FROM public.v_target ORDER BY k").rows == [(1, "new"), (2, "add")]


def test_identifiers_fold_to_lower_case_like_redshift(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, store: MemoryObjectStore
) -> None:
    runner.run(conn, 'CREATE TABLE public."Orders" ("OrderID" INT, "Note" VARCHAR(10))')
    store.put_object("landing", "o.csv", b"1,a\n")
    runner.run(conn, """COPY public."ORDERS" ("ORDERID", "note") FROM 's3://landing/o.csv' CSV""")
    outcome = runner.run(conn, 'SELECT orderid AS "Total", "NOTE" FROM public.orders')
    assert outcome.columns is not None
    assert [column.name for column in outcome.columns] == ["total", "note"]
    assert outcome.rows == [(1, "a")]


def test_procedure_sql_uses_statement_translation(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, "CREATE TABLE public.scores (player VARCHAR(10), score INT)")
    runner.run(conn, "INSERT INTO public.scores VALUES ('a', 3), ('a', 9), ('b', 5), ('b', 1)")
    runner.run(
        conn,
        """
        CREATE PROCEDURE public.sp_best(INOUT best VARCHAR(100), INOUT middle FLOAT8) AS $$
        BEGIN
            SELECT LISTAGG(player || ':' || score, ',') WITHIN GROUP (ORDER BY player) INTO best
            FROM (
                SELECT player, score FROM public.scores
                QUALIFY ROW_NUMBER() OVER (PARTITION BY player ORDER BY score DESC) = 1
            ) AS top_scores;
            SELECT TOP 1 MEDIAN(score) INTO middle FROM public.scores;
        END;
        $$ LANGUAGE plpgsql
        """,
    )
    assert runner.run(conn, "CALL public.sp_best(NULL, NULL)").rows == [("a:9,b:5", 4.0)]
