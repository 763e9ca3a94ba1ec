"""The Data API on its own: PostgreSQL plus the service on a loopback port, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from rsetl.awsproto import DEFAULT_CREDENTIALS, IdentityLookup, LocalServer, Router, SigV4Verifier
from rsetl.clock import Clock
from rsetl.objectstore import MemoryObjectStore, ObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_data.config import STATEMENT_WORKERS, Faults, Limits
from rsetl.redshift_data.events import EventSink
from rsetl.redshift_data.runner import SqlRunner
from rsetl.redshift_data.service import DEFAULT_DATABASE, RedshiftDataService
from rsetl.redshift_data.users import DatabaseAuth
from rsetl.redshift_sql import RedshiftSqlRunner


class Postgres(Protocol):
    """What the Data API needs from a PostgreSQL server (`rsetl.postgres.PostgresServer`)."""

    def conninfo(self, database: str = ...) -> str: ...

    def create_database(self, name: str) -> None: ...

    def list_databases(self) -> list[str]: ...

    def stop(self) -> None: ...


class LocalRedshiftData:
    """A running Data API endpoint: `url` for `endpoint_url`, `service` for limits and faults.

    `workers`: statements that run at once. Large results go to a temporary folder the service
    owns and deletes when it stops.
    """

    def __init__(
        self,
        postgres: Postgres,
        runner: SqlRunner,
        *,
        clock: Clock | None = None,
        credentials: Mapping[str, str] = DEFAULT_CREDENTIALS,
        port: int = 0,
        limits: Limits | None = None,
        faults: Faults | None = None,
        event_sink: EventSink | None = None,
        auth: DatabaseAuth | None = None,
        workers: int = STATEMENT_WORKERS,
        owns_postgres: bool = False,
        identities: IdentityLookup | None = None,
    ) -> None:
        if DEFAULT_DATABASE not in postgres.list_databases():
            postgres.create_database(DEFAULT_DATABASE)
        self.postgres = postgres
        self.service = RedshiftDataService(
            postgres.conninfo,
            runner,
            clock=clock,
            limits=limits,
            faults=faults,
            event_sink=event_sink,
            auth=auth,
            workers=workers,
        )
        router = Router(SigV4Verifier(credentials), identities=identities)
        router.register(self.service)
        self._server = LocalServer(router, port)
        self._owns_postgres = owns_postgres

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> LocalRedshiftData:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.service.close()
        if self._owns_postgres:
            self.postgres.stop()

    def __enter__(self) -> LocalRedshiftData:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    state_dir: Path,
    *,
    postgres_url: str | None = None,
    object_store: ObjectStore | None = None,
    **options: Any,
) -> LocalRedshiftData:
    """Start PostgreSQL (embedded under `state_dir`, or the server at `postgres_url`) and the Data API.

    `options` are those of :class:`LocalRedshiftData` (clock, credentials, port, limits, faults,
    event_sink, auth, workers). The caller stops the returned endpoint, which stops PostgreSQL too.
    """
    postgres = PostgresServer.from_url(postgres_url) if postgres_url else PostgresServer.start(state_dir)
    runner = RedshiftSqlRunner(object_store or MemoryObjectStore())
    return LocalRedshiftData(postgres, runner, owns_postgres=True, **options).start()
