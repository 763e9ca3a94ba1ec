"""STV_MV_INFO and SVL_MV_REFRESH_STATUS of the local Redshift layer, against real PostgreSQL.

Redshift Database Developer Guide:
- "STV_MV_INFO" (https://docs.aws.amazon.com/redshift/latest/dg/r_STV_MV_INFO.html): `is_stale` is `t`
  when "the base tables have been updated but the materialized view hasn't been refreshed"; `state` 0
  is "fully recomputed when refreshed", 1 "incremental".
- "Refreshing a materialized view", Limitations for incremental refresh
  (https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-refresh.html): no incremental
  refresh with DISTINCT aggregates, outer joins, set operations or window functions.
- "SVL_MV_REFRESH_STATUS" (https://docs.aws.amazon.com/redshift/latest/dg/r_SVL_MV_REFRESH_STATUS.html):
  one row per refresh, status "Refresh successfully updated MV incrementally", "Refresh successfully
  recomputed MV from scratch" or "MV was already updated".
"""

from __future__ import annotations

import psycopg
import pytest

from rsetl.redshift_sql import RedshiftSqlRunner

pytestmark = pytest.mark.postgres

BASE = """
CREATE TABLE public.lines (order_id INT, store_id INT, amount DECIMAL(10, 2)) DISTSTYLE EVEN;
CREATE TABLE public.stores (store_id INT, region VARCHAR(8)) DISTSTYLE ALL;
INSERT INTO public.lines VALUES (1, 1, 1.00), (1, 1, 2.00), (2, 1, 4.00);
INSERT INTO public.stores VALUES (1, 'west');
"""


def _info(runner: RedshiftSqlRunner, conn: psycopg.Connection, name: str) -> tuple[str, int]:
    rows = runner.run(
        conn, f"SELECT is_stale, state FROM stv_mv_info WHERE schema = 'public' AND name = '{name}'"
    ).rows
    assert rows is not None
    (row,) = rows
    return row[0], row[1]


def _statuses(runner: RedshiftSqlRunner, conn: psycopg.Connection, name: str) -> list[str]:
    rows = runner.run(
        conn, f"SELECT status FROM svl_mv_refresh_status WHERE mv_name = '{name}' ORDER BY xid"
    ).rows
    assert rows is not None
    return [row[0].strip() for row in rows]


@pytest.fixture
def views(runner: RedshiftSqlRunner, conn: psycopg.Connection) -> None:
    for statement in BASE.strip().split(";\n"):
        runner.run(conn, statement)
    runner.run(
        conn,
        "CREATE MATERIALIZED VIEW public.mv_sums AUTO REFRESH NO AS SELECT s.region, COUNT(*) AS n,"
        " SUM(l.amount) AS amount FROM public.lines l JOIN public.stores s ON s.store_id = l.store_id"
        " GROUP BY s.region",
    )
    runner.run(
        conn,
        "CREATE MATERIALIZED VIEW public.mv_orders AUTO REFRESH NO AS SELECT store_id,"
        " COUNT(DISTINCT order_id) AS orders FROM public.lines GROUP BY store_id",
    )


@pytest.mark.usefixtures("views")
def test_state_is_incremental_unless_a_construct_redshift_recomputes_is_used(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    assert _info(runner, conn, "mv_sums") == ("f", 1)
    assert _info(runner, conn, "mv_orders") == ("f", 0)
    runner.run(
        conn,
        "CREATE MATERIALIZED VIEW public.mv_outer AS SELECT s.region, COUNT(l.order_id) AS n"
        " FROM public.stores s LEFT JOIN public.lines l ON l.store_id = s.store_id GROUP BY s.region",
    )
    runner.run(
        conn, "CREATE MATERIALIZED VIEW public.mv_union AS SELECT store_id FROM public.lines UNION SELECT 9"
    )
    assert _info(runner, conn, "mv_outer")[1] == 0
    assert _info(runner, conn, "mv_union")[1] == 0


@pytest.mark.usefixtures("views")
def test_a_committed_change_to_a_base_table_makes_its_views_stale_until_refreshed(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, "INSERT INTO public.stores VALUES (2, 'east')")
    # A dimension change stales the view that joins it, not the one that does not read it.
    assert _info(runner, conn, "mv_sums")[0] == "t"
    assert _info(runner, conn, "mv_orders")[0] == "f"
    runner.run(conn, "REFRESH MATERIALIZED VIEW public.mv_sums")
    assert _info(runner, conn, "mv_sums")[0] == "f"
    runner.run(conn, "DELETE FROM public.lines WHERE order_id = 2")
    assert (_info(runner, conn, "mv_sums")[0], _info(runner, conn, "mv_orders")[0]) == ("t", "t")


@pytest.mark.usefixtures("views")
def test_an_uncommitted_change_does_not_stale_a_view_for_others(
    runner: RedshiftSqlRunner, conn: psycopg.Connection, pg_server: object
) -> None:
    dsn = conn.info.dsn
    with psycopg.connect(dsn) as writer:
        writer.execute("INSERT INTO public.lines VALUES (3, 1, 8.00)")
        assert _info(runner, conn, "mv_sums")[0] == "f"
        writer.rollback()
    assert _info(runner, conn, "mv_sums")[0] == "f"


@pytest.mark.usefixtures("views")
def test_a_change_committed_while_a_refresh_reads_keeps_the_view_stale(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    """The refresh's snapshot predates the other transaction's commit: that change is not in the view."""
    dsn = conn.info.dsn
    with psycopg.connect(dsn) as refresher, psycopg.connect(dsn, autocommit=True) as writer:
        refresher.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        refresher.execute("SELECT 1")  # the refresh transaction's snapshot starts here
        writer.execute("INSERT INTO public.lines VALUES (3, 1, 8.00)")
        refresher.execute("REFRESH MATERIALIZED VIEW public.mv_sums")
        refresher.commit()
    assert runner.run(conn, "SELECT n FROM public.mv_sums").rows == [(3,)]
    assert _info(runner, conn, "mv_sums")[0] == "t"


@pytest.mark.usefixtures("views")
def test_refresh_status_names_the_method_and_an_unneeded_refresh(
    runner: RedshiftSqlRunner, conn: psycopg.Connection
) -> None:
    runner.run(conn, "INSERT INTO public.lines VALUES (3, 1, 8.00)")
    runner.run(conn, "REFRESH MATERIALIZED VIEW public.mv_sums")
    runner.run(conn, "REFRESH MATERIALIZED VIEW public.mv_orders")
    runner.run(conn, "REFRESH MATERIALIZED VIEW public.mv_sums")
    assert _statuses(runner, conn, "mv_sums") == [
        "Refresh successfully updated MV incrementally",
        "MV was already updated",
    ]
    assert _statuses(runner, conn, "mv_orders") == ["Refresh successfully recomputed MV from scratch"]
