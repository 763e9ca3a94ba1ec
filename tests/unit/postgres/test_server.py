"""PostgresServer: embedded lifecycle, reuse of the state directory, external URLs, databases."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from rsetl.postgres import (
    DEFAULT_DATABASE,
    InvalidDatabaseNameError,
    InvalidIsolationLevelError,
    PostgresServer,
    PostgresStartError,
)

pytestmark = pytest.mark.postgres


def test_dev_exists_with_compat_functions_and_redshift_session_settings(embedded: PostgresServer) -> None:
    assert DEFAULT_DATABASE in embedded.list_databases()
    with psycopg.connect(embedded.conninfo()) as conn:
        row = conn.execute(
            "SELECT current_database(), current_setting('TimeZone'), current_setting('DateStyle'),"
            " current_setting('default_transaction_isolation'),"
            " rsetl_compat.datediff('day', '2024-01-01', '2024-01-03')"
        ).fetchone()
    assert row == ("dev", "UTC", "ISO, MDY", "repeatable read", 2)


def test_create_database_is_idempotent_and_installs_compat(embedded: PostgresServer) -> None:
    embedded.create_database("analytics")
    embedded.create_database("analytics")
    assert {"analytics", "dev"} <= set(embedded.list_databases())
    assert "template1" not in embedded.list_databases()
    with embedded.connect("analytics") as conn:
        assert conn.execute("SELECT rsetl_compat.strtol('ff', 16)").fetchone() == (255,)


def test_compat_layer_is_installed_again_only_when_its_stamp_differs(embedded: PostgresServer) -> None:
    embedded.create_database("stamped")
    with embedded.connect("stamped") as conn:
        # A function the stamp's script creates, dropped behind its back: a matching stamp skips it.
        conn.execute("DROP FUNCTION rsetl_compat.getdate()")
    embedded.create_database("stamped")
    with embedded.connect("stamped") as conn:
        assert conn.execute("SELECT to_regproc('rsetl_compat.getdate')").fetchone() == (None,)
        # A database an older version set up has another stamp (or none): the script runs again.
        conn.execute("COMMENT ON SCHEMA rsetl_compat IS NULL")
    embedded.create_database("stamped")
    with embedded.connect("stamped") as conn:
        assert conn.execute("SELECT rsetl_compat.getdate() IS NOT NULL").fetchone() == (True,)


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
    external = PostgresServer.from_url(url)
    assert not external.embedded and embedded.embedded
    external.create_database("external_db", "SERIALIZABLE")
    with external.connect("external_db") as conn:
        isolation = conn.execute("SELECT current_setting('default_transaction_isolation')").fetchone()
    external.stop()
    assert isolation == ("serializable",)
    assert "external_db" in embedded.list_databases()


def test_isolation_level_is_per_database_and_applies_to_new_connections(embedded: PostgresServer) -> None:
    """Redshift sets SNAPSHOT or SERIALIZABLE per database ("Isolation levels in Amazon Redshift",
    https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html); a new database gets
    SNAPSHOT, the default of new clusters and workgroups."""
    embedded.create_database("levels")
    assert embedded.isolation_level("levels") == "SNAPSHOT"
    with embedded.connect("levels") as before:
        embedded.set_isolation_level("levels", "SERIALIZABLE")
        with embedded.connect("levels") as after:
            levels = [
                c.execute("SELECT current_setting('default_transaction_isolation')").fetchone()
                for c in (before, after)
            ]
    assert levels == [("repeatable read",), ("serializable",)]
    assert embedded.isolation_level("levels") == "SERIALIZABLE"
    embedded.create_database("levels")
    assert embedded.isolation_level("levels") == "SERIALIZABLE", "an existing database keeps its level"
    with pytest.raises(InvalidIsolationLevelError, match="SNAPSHOT and SERIALIZABLE"):
        embedded.set_isolation_level("levels", "READ COMMITTED")


def test_bad_urls_are_refused() -> None:
    with pytest.raises(PostgresStartError):
        PostgresServer.from_url("mysql://localhost/db")
