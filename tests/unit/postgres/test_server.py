"""PostgresServer: embedded lifecycle, reuse of the state directory, external URLs, databases."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from rsetl.postgres import DEFAULT_DATABASE, InvalidDatabaseNameError, PostgresServer, PostgresStartError

pytestmark = pytest.mark.postgres


def test_dev_exists_with_compat_functions_and_redshift_session_settings(embedded: PostgresServer) -> None:
    assert DEFAULT_DATABASE in embedded.list_databases()
    with psycopg.connect(embedded.conninfo()) as conn:
        row = conn.execute(
            "SELECT current_database(), current_setting('TimeZone'), current_setting('DateStyle'),"
            " current_setting('default_transaction_isolation'),"
            " rsetl_compat.datediff('day', '2024-01-01', '2024-01-03')"
        ).fetchone()
    assert row == ("dev", "UTC", "ISO, MDY", "read committed", 2)


def test_create_database_is_idempotent_and_installs_compat(embedded: PostgresServer) -> None:
    embedded.create_database("analytics")
    embedded.create_database("analytics")
    assert {"analytics", "dev"} <= set(embedded.list_databases())
    assert "template1" not in embedded.list_databases()
    with embedded.connect("analytics") as conn:
        assert conn.execute("SELECT rsetl_compat.strtol('ff', 16)").fetchone() == (255,)


@pytest.mark.parametrize("name", ["1abc", "has space", "semi;colon", ""])
def test_invalid_database_names_are_refused(embedded: PostgresServer, name: str) -> None:
    with pytest.raises(InvalidDatabaseNameError):
        embedded.create_database(name)


def test_data_is_kept_in_the_state_dir_across_restarts(state_root: Path) -> None:
    state = state_root / "restart"
    first = PostgresServer.start(state)
    first.create_database("kept")
    with first.connect("kept") as conn:
        conn.execute("CREATE TABLE marker (v TEXT)")
        conn.execute("INSERT INTO marker VALUES ('still here')")
    conninfo = first.conninfo("kept")
    first.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo, connect_timeout=2)
    second = PostgresServer.start(state)
    try:
        assert "kept" in second.list_databases()
        with second.connect("kept") as conn:
            assert conn.execute("SELECT v FROM marker").fetchall() == [("still here",)]
    finally:
        second.stop()


def test_external_url_uses_the_server_without_owning_it(embedded: PostgresServer) -> None:
    params = psycopg.conninfo.conninfo_to_dict(embedded.conninfo())
    url = f"postgresql://{params['user']}@/postgres?host={params['host']}"
    external = PostgresServer.from_url(url, isolation="serializable")
    assert not external.embedded and embedded.embedded
    external.create_database("external_db")
    with external.connect("external_db") as conn:
        isolation = conn.execute("SELECT current_setting('default_transaction_isolation')").fetchone()
    external.stop()
    assert isolation == ("serializable",)
    assert "external_db" in embedded.list_databases()


@pytest.mark.parametrize(
    ("url", "isolation"),
    [("mysql://localhost/db", "read committed"), ("postgresql://localhost/db", "chaos")],
)
def test_bad_urls_and_isolation_levels(url: str, isolation: str) -> None:
    with pytest.raises(PostgresStartError):
        PostgresServer.from_url(url, isolation=isolation)
