"""One embedded PostgreSQL per session; each test gets a fresh database cloned from a template."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, PostgresServer
from rsetl.redshift_sql import RedshiftSqlRunner

TEMPLATE = "rsetl_sql_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    # Not under pytest's basetemp: concurrent pytest sessions prune each other's numbered temp dirs.
    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-redshift-sql-"))
    server = PostgresServer.start(state_dir / "state")
    try:
        server.create_database(TEMPLATE)
        yield server
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def conn(pg_server: PostgresServer) -> Iterator[psycopg.Connection]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY WAL_LOG")
    # A template does not pass on database settings: give the copy Redshift's default level.
    pg_server.set_isolation_level(name, DEFAULT_ISOLATION_LEVEL)
    try:
        with psycopg.connect(pg_server.conninfo(name), autocommit=True) as connection:
            yield connection
    finally:
        with psycopg.connect(pg_server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def store() -> MemoryObjectStore:
    objects = MemoryObjectStore()
    objects.create_bucket("landing")
    objects.create_bucket("exports")
    return objects


@pytest.fixture
def runner(store: MemoryObjectStore) -> RedshiftSqlRunner:
    return RedshiftSqlRunner(store)


@pytest.fixture(scope="session")
def sql_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "sql"
