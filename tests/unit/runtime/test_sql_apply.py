"""Applying a `sql/` folder: file order, once per file version, one transaction per file, named failures."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_sql import RedshiftSqlRunner
from rsetl.runtime.sql_apply import SqlApplyError, apply_sql_folder

pytestmark = pytest.mark.postgres

SCHEMA = (
    "CREATE SCHEMA IF NOT EXISTS app;\n"
    "CREATE TABLE IF NOT EXISTS app.t (id INTEGER, name VARCHAR(10)) DISTSTYLE ALL;\n"
)
SEED = "INSERT INTO app.t VALUES (1, 'one');\nINSERT INTO app.t VALUES (2, 'two');\n"
BAD = (
    "CREATE TABLE app.half_done (id INTEGER);\n"
    "INSERT INTO app.missing_table\n    VALUES (3);\n"
    "CREATE TABLE app.never (id INTEGER);\n"
)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    # Not under pytest's basetemp: concurrent pytest sessions prune each other's numbered temp dirs.
    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-sql-apply-"))
    pg = PostgresServer.start(state_dir / "postgres")
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def conn(server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    with server.connect(name) as connection:
        yield connection


@pytest.fixture
def runner() -> RedshiftSqlRunner:
    return RedshiftSqlRunner(MemoryObjectStore())


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.sql").write_text(text)
    return tmp_path


def _summary(applied: list[Any]) -> list[tuple[str, int, bool]]:
    return [(a.path.name, a.statements, a.skipped) for a in applied]


def test_files_run_in_name_order_once_per_version(
    tmp_path: Path, conn: psycopg.Connection[Any], runner: RedshiftSqlRunner
) -> None:
    folder = _folder(tmp_path, **{"002_seed": SEED, "001_schema": SCHEMA})

    first = apply_sql_folder(conn, folder, runner)
    second = apply_sql_folder(conn, folder, runner)

    assert _summary(first) == [("001_schema.sql", 2, False), ("002_seed.sql", 2, False)]
    assert _summary(second) == [("001_schema.sql", 0, True), ("002_seed.sql", 0, True)]
    assert conn.execute("SELECT id, name FROM app.t ORDER BY id").fetchall() == [(1, "one"), (2, "two")]


def test_a_changed_file_runs_again_and_the_others_are_skipped(
    tmp_path: Path, conn: psycopg.Connection[Any], runner: RedshiftSqlRunner
) -> None:
    folder = _folder(tmp_path, **{"001_schema": SCHEMA, "002_seed": SEED})
    apply_sql_folder(conn, folder, runner)
    (folder / "002_seed.sql").write_text("DELETE FROM app.t;\nINSERT INTO app.t VALUES (9, 'nine');\n")
    heard: list[str] = []

    again = apply_sql_folder(conn, folder, runner, progress=lambda a: heard.append(a.path.name))

    assert _summary(again) == [("001_schema.sql", 0, True), ("002_seed.sql", 2, False)]
    assert heard == ["001_schema.sql", "002_seed.sql"]
    assert conn.execute("SELECT id FROM app.t").fetchall() == [(9,)]


def test_a_failing_statement_names_the_file_and_statement_and_leaves_that_file_unapplied(
    tmp_path: Path, conn: psycopg.Connection[Any], runner: RedshiftSqlRunner
) -> None:
    folder = _folder(tmp_path, **{"001_schema": SCHEMA, "002_bad": BAD, "003_seed": SEED})

    with pytest.raises(SqlApplyError) as raised:
        apply_sql_folder(conn, folder, runner)

    message = str(raised.value)
    assert message.startswith("002_bad.sql, statement 2 (INSERT INTO app.missing_table): ")
    assert "missing_table" in message.split("): ", 1)[1]
    tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'app'")}
    assert tables == {"t"}, "the failed file's first statement is rolled back and later files do not run"
    assert conn.execute("SELECT count(*) FROM app.t").fetchone() == (0,)

    (folder / "002_bad.sql").write_text("CREATE TABLE app.half_done (id INTEGER);\n")
    fixed = apply_sql_folder(conn, folder, runner)

    assert _summary(fixed) == [
        ("001_schema.sql", 0, True),
        ("002_bad.sql", 1, False),
        ("003_seed.sql", 2, False),
    ]
