"""One PostgreSQL for the whole session, and Data API endpoints over it for the tests to call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from rsetl.clock import Clock, RealClock
from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_data import LocalRedshiftData
from rsetl.redshift_sql import RedshiftSqlRunner

CREDENTIALS = {"test": "test", "other": "other-secret"}


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer.start(tmp_path_factory.mktemp("redshift-data"))
    yield server
    server.stop()


@pytest.fixture
def make_endpoint(postgres: PostgresServer) -> Iterator[Callable[..., LocalRedshiftData]]:
    """Starts Data API endpoints (over the shared PostgreSQL by default); all stop after the test."""
    started: list[LocalRedshiftData] = []

    def make(clock: Clock | None = None, server: Any = None, **options: Any) -> LocalRedshiftData:
        endpoint = LocalRedshiftData(
            server or postgres,
            RedshiftSqlRunner(MemoryObjectStore()),
            clock=clock or RealClock(),
            **{"credentials": CREDENTIALS, **options},
        ).start()
        started.append(endpoint)
        return endpoint

    yield make
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(scope="session")
def shared_endpoint(postgres: PostgresServer) -> Iterator[LocalRedshiftData]:
    """One endpoint on the real clock for tests that change no limits or faults."""
    with LocalRedshiftData(
        postgres, RedshiftSqlRunner(MemoryObjectStore()), credentials=CREDENTIALS
    ) as endpoint:
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
