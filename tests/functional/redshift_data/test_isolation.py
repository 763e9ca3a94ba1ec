"""Redshift's isolation levels per database: when a transaction's snapshot starts, what a conflict reports.

"Isolation levels in Amazon Redshift" (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html):
a database is SNAPSHOT (the default of new provisioned clusters and Serverless workgroups) or
SERIALIZABLE; a transaction's snapshot is taken at its first SELECT, DML or CREATE TABLE (not at
LOCK), and a transaction that cannot be serialized is rolled back with error 1023. Under SNAPSHOT,
"concurrent modifications to different rows in the same table" succeed; of two concurrent
modifications of the same rows only the first to commit does ("Amazon Redshift launches Snapshot
Isolation", https://aws.amazon.com/about-aws/whats-new/2022/05/amazon-redshift-snapshot-isolation-level-support-concurrent-transactions/).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.postgres import PostgresServer
from rsetl.redshift_data import ADMIN_USER
from rsetl.redshift_data.connections import ConnectionPool
from rsetl.redshift_data.users import DatabaseUsers

HOUR = 3600
SERIALIZATION_FAILURE = "ERROR: 1023 DETAIL: Serializable isolation violation on table"
_names = itertools.count(1)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(params=["SNAPSHOT", "SERIALIZABLE"])
def level(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(postgres: PostgresServer, level: str) -> Iterator[str]:
    """A fresh database at `level` with a ledger table and one row in table `t`."""
    name = f"iso_{level.lower()}_{next(_names)}"
    postgres.create_database(name, level)
    with postgres.connect(name) as conn:
        conn.execute("CREATE TABLE ledger (k TEXT)")
        conn.execute("CREATE TABLE t (id INT)")
        conn.execute("INSERT INTO t VALUES (1)")
    yield name


@pytest.fixture
def api(make_endpoint: Callable[..., Any], make_client: Callable[..., Any], clock: VirtualClock) -> Any:
    endpoint = make_endpoint(clock=clock)
    endpoint.service.faults.simulate_duration(r"/\* held \*/", HOUR)
    return make_client(endpoint.url)


def _wait_until_blocked(postgres: PostgresServer, database: str) -> None:
    """Until a backend of `database` waits for a lock (bounded: 30 s of real time)."""
    deadline = time.monotonic() + 30
    with postgres.connect(database) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (database,),
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no statement waited for the lock")


def _finish(api: Any, clock: VirtualClock, held: str, *others: str) -> list[dict[str, Any]]:
    clock.advance(HOUR)
    descriptions = []
    for statement_id in (held, *others):
        for _ in range(60):
            described = api.describe_statement(Id=statement_id, WaitTimeSeconds=1)
            if described["Status"] in ("FINISHED", "FAILED", "ABORTED"):
                break
        descriptions.append(described)
    return descriptions


def _last_count(api: Any, statement_id: str) -> int:
    description = api.describe_statement(Id=statement_id)
    last = description["SubStatements"][-1]["Id"]
    return int(api.get_statement_result(Id=last)["Records"][0][0]["longValue"])


def test_the_snapshot_starts_at_the_first_statement_so_only_a_lock_taken_first_sees_a_commit(
    api: Any, clock: VirtualClock, postgres: PostgresServer, database: str
) -> None:
    target = {"WorkgroupName": "local-wg", "Database": database}
    held = api.batch_execute_statement(
        Sqls=["LOCK ledger", "INSERT INTO ledger VALUES ('first') /* held */"], **target
    )["Id"]
    assert api.describe_statement(Id=held, WaitTimeSeconds=1)["Status"] == "STARTED"
    late_lock = api.batch_execute_statement(
        Sqls=["SELECT count(*) FROM t", "LOCK ledger", "SELECT count(*) FROM ledger"], **target
    )["Id"]
    _wait_until_blocked(postgres, database)
    lock_first = api.batch_execute_statement(Sqls=["LOCK ledger", "SELECT count(*) FROM ledger"], **target)[
        "Id"
    ]
    statuses = [d["Status"] for d in _finish(api, clock, held, late_lock, lock_first)]
    assert statuses == ["FINISHED"] * 3
    assert _last_count(api, late_lock) == 0, "its snapshot predates the commit it waited for"
    assert _last_count(api, lock_first) == 1


def test_concurrent_writes_of_the_same_rows_fail_with_error_1023(
    api: Any, clock: VirtualClock, postgres: PostgresServer, database: str
) -> None:
    target = {"WorkgroupName": "local-wg", "Database": database}
    held = api.batch_execute_statement(Sqls=["DELETE FROM t WHERE id = 1 /* held */"], **target)["Id"]
    assert api.describe_statement(Id=held, WaitTimeSeconds=1)["Status"] == "STARTED"
    second = api.batch_execute_statement(
        Sqls=["SELECT count(*) FROM ledger", "DELETE FROM t WHERE id = 1"], **target
    )["Id"]
    _wait_until_blocked(postgres, database)
    first, conflicted = _finish(api, clock, held, second)
    assert first["Status"] == "FINISHED"
    assert conflicted["Status"] == "FAILED"
    assert conflicted["Error"].startswith(SERIALIZATION_FAILURE)


def test_serializable_fails_two_overlapping_check_then_insert_transactions(
    make_endpoint: Callable[..., Any],
    make_client: Callable[..., Any],
    clock: VirtualClock,
    postgres: PostgresServer,
) -> None:
    """Each reads the ledger and writes it: no serial order gives both results (write skew)."""
    name = f"iso_skew_{next(_names)}"
    postgres.create_database(name, "SERIALIZABLE")
    with postgres.connect(name) as conn:
        conn.execute("CREATE TABLE ledger (k TEXT)")
    endpoint = make_endpoint(clock=clock)
    endpoint.service.faults.simulate_duration(r"/\* held \*/", HOUR)
    api = make_client(endpoint.url)
    target = {"WorkgroupName": "local-wg", "Database": name}
    check_then_insert = [
        "SELECT count(*) FROM ledger WHERE k = 'a'",
        "INSERT INTO ledger VALUES ('{}') /* held */",
    ]
    ids = [
        api.batch_execute_statement(Sqls=[check_then_insert[0], check_then_insert[1].format(k)], **target)[
            "Id"
        ]
        for k in ("a", "b")
    ]
    for statement_id in ids:
        assert api.describe_statement(Id=statement_id, WaitTimeSeconds=1)["Status"] == "STARTED"
    outcomes = _finish(api, clock, *ids)
    assert sorted(o["Status"] for o in outcomes) == ["FAILED", "FINISHED"]
    (failed,) = [o for o in outcomes if o["Status"] == "FAILED"]
    assert failed["Error"].startswith(SERIALIZATION_FAILURE)


def test_create_and_alter_database_set_the_isolation_level(client: Any, postgres: PostgresServer) -> None:
    """CREATE DATABASE ... ISOLATION LEVEL and ALTER DATABASE ... ISOLATION LEVEL
    (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_DATABASE.html,
    https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_DATABASE.html)."""
    name = f"iso_sql_{next(_names)}"
    target = {"WorkgroupName": "local-wg", "Database": "dev"}

    def run(sql: str) -> dict[str, Any]:
        submitted = client.execute_statement(Sql=sql, WaitTimeSeconds=10, **target)
        return dict(client.describe_statement(Id=submitted["Id"]))

    assert run(f"CREATE DATABASE {name} ISOLATION LEVEL SERIALIZABLE")["Status"] == "FINISHED"
    assert postgres.isolation_level(name) == "SERIALIZABLE"
    assert run(f"ALTER DATABASE {name} ISOLATION LEVEL SNAPSHOT")["Status"] == "FINISHED"
    assert postgres.isolation_level(name) == "SNAPSHOT"
    with postgres.connect(name) as other:
        refused = run(f"ALTER DATABASE {name} ISOLATION LEVEL SERIALIZABLE")
        assert not other.closed
    assert refused["Status"] == "FAILED"
    assert f'database "{name}" is being accessed by other users' in refused["Error"]
    assert postgres.isolation_level(name) == "SNAPSHOT"
    bad = run(f"ALTER DATABASE {name} ISOLATION LEVEL READ COMMITTED")
    assert bad["Status"] == "FAILED" and "SNAPSHOT and SERIALIZABLE" in bad["Error"]


def test_a_level_change_reaches_statements_on_pooled_connections(
    client: Any, postgres: PostgresServer
) -> None:
    name = f"iso_pool_{next(_names)}"
    postgres.create_database(name, "SNAPSHOT")
    target = {"WorkgroupName": "local-wg", "Database": name}
    show = "SELECT current_setting('transaction_isolation')"

    def level_of_next_statement() -> str:
        submitted = client.execute_statement(Sql=show, WaitTimeSeconds=10, **target)
        return str(client.get_statement_result(Id=submitted["Id"])["Records"][0][0]["stringValue"])

    assert level_of_next_statement() == "repeatable read"
    altered = client.execute_statement(
        Sql=f"ALTER DATABASE {name} ISOLATION LEVEL SERIALIZABLE",
        WaitTimeSeconds=10,
        WorkgroupName="local-wg",
        Database="dev",
    )
    assert client.describe_statement(Id=altered["Id"])["Status"] == "FINISHED"
    assert level_of_next_statement() == "serializable"


def test_a_connection_in_use_when_the_pool_closes_is_closed_when_released(postgres: PostgresServer) -> None:
    """A level change closes the pool; a connection a statement still held then opened with the old
    level, so it is closed when released instead of being reused (or left on the database)."""
    users = DatabaseUsers(postgres.conninfo, ADMIN_USER)
    pool = ConnectionPool(users)
    login = users.admin()
    in_use = pool.acquire("dev", login)
    pool.close()
    pool.release("dev", login, in_use, dirty=False)
    assert in_use.closed
    fresh = pool.acquire("dev", login)
    pool.release("dev", login, fresh, dirty=False)
    assert not fresh.closed
    assert pool.acquire("dev", login) is fresh
    pool.close()


def test_a_pooled_connection_whose_backend_was_terminated_is_not_handed_out_again(
    postgres: PostgresServer,
) -> None:
    """The pool tells a dead idle connection by its socket (readable: the backend's FATAL, then EOF)."""
    users = DatabaseUsers(postgres.conninfo, ADMIN_USER)
    pool = ConnectionPool(users)
    login = users.admin()
    pooled = pool.acquire("dev", login)
    pid = pooled.info.backend_pid
    pool.release("dev", login, pooled, dirty=False)
    assert pool.acquire("dev", login) is pooled  # alive: reused without a new backend
    pool.release("dev", login, pooled, dirty=False)
    with postgres.connect("dev") as admin:
        # With a timeout, pg_terminate_backend returns once the backend has exited.
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)
    replacement = pool.acquire("dev", login)
    assert replacement is not pooled and pooled.closed
    assert replacement.execute("SELECT 1").fetchone() == (1,)
    pool.release("dev", login, replacement, dirty=False)
    pool.close()
