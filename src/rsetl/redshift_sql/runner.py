"""Run Redshift-dialect SQL on a PostgreSQL connection."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from typing import Any, cast

import psycopg

from rsetl.objectstore import ObjectStore
from rsetl.redshift_sql.copy import run_copy
from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.isolation import run_isolation
from rsetl.redshift_sql.results import StatementOutcome, describe_columns, redshift_type
from rsetl.redshift_sql.script import SqlScript, parse_script, prepare_script
from rsetl.redshift_sql.streaming import RawStreamingCursor, RowSink, StreamingCursor, chunk_rows
from rsetl.redshift_sql.translate import Translation
from rsetl.redshift_sql.unload import run_unload


class RedshiftSqlRunner:
    """Translates and runs Redshift SQL; COPY and UNLOAD use `object_store` for s3:// URLs."""

    def __init__(self, object_store: ObjectStore) -> None:
        self.object_store = object_store

    @staticmethod
    def parse(sql: str) -> SqlScript:
        """`sql` lexed once, for `run_script` (see `parse_script`)."""
        return parse_script(sql)

    def run(
        self,
        conn: psycopg.Connection[Any],
        sql: str,
        parameters: Mapping[str, str] | None = None,
        sink: RowSink | None = None,
    ) -> StatementOutcome:
        """Run `sql` (one statement, or several separated by semicolons) and return the last outcome."""
        return self.run_script(conn, parse_script(sql), parameters, sink)

    def run_script(
        self,
        conn: psycopg.Connection[Any],
        script: SqlScript,
        parameters: Mapping[str, str] | None = None,
        sink: RowSink | None = None,
    ) -> StatementOutcome:
        """Run a parsed SQL text and return the last statement's outcome.

        `:name` parameters are bound as data, as a prepared statement's are, so a parameterized
        text holds exactly one statement. With a `sink`, rows stream into it as they arrive and
        the outcome holds none. Raises ParameterError, UnsupportedSqlError, LoadError,
        S3AccessError, UnloadError, psycopg errors, or what the sink raises.
        """
        translations, values = prepare_script(script, parameters)
        outcome = StatementOutcome()
        for translation in translations:
            outcome = self.execute(conn, translation, values, sink)
        return outcome

    def translate(self, sql: str, parameters: Mapping[str, str] | None = None) -> list[Translation]:
        """The translations `run` would execute, for inspection and tests."""
        return prepare_script(parse_script(sql), parameters)[0]

    def execute(
        self,
        conn: psycopg.Connection[Any],
        translation: Translation,
        values: Sequence[str] = (),
        sink: RowSink | None = None,
    ) -> StatementOutcome:
        """Execute one translated statement, binding `values` to its `$n` placeholders; rows go to
        `sink` as they arrive when one is given."""
        if translation.kind == "noop":
            return StatementOutcome()
        if values and translation.kind in ("copy", "unload"):
            raise UnsupportedSqlError(
                f"parameters in {translation.kind.upper()}", "its S3 URL and options are literals"
            )
        if translation.copy is not None:
            return StatementOutcome(rows_affected=run_copy(conn, translation.copy, self.object_store))
        if translation.unload is not None:
            return StatementOutcome(rows_affected=run_unload(conn, translation.unload, self.object_store))
        if translation.isolation is not None and not values:
            run_isolation(conn, translation.isolation)
            return StatementOutcome()
        if sink is not None:
            return _streamed(conn, translation.sql, values, sink)
        if values:
            with psycopg.RawCursor(conn) as raw:
                raw.execute(translation.sql, list(values), prepare=False)
                return _outcome(raw)
        with conn.cursor() as cursor:
            cursor.execute(translation.sql.encode(), prepare=False)
            return _outcome(cursor)


def _outcome(cursor: psycopg.Cursor[Any]) -> StatementOutcome:
    if cursor.description is None:
        return StatementOutcome(rows_affected=max(cursor.rowcount, 0))
    columns = describe_columns(cursor)
    rows = cursor.fetchall()
    return StatementOutcome(columns=columns, rows=rows, rows_affected=len(rows))


def _streamed(
    conn: psycopg.Connection[Any], sql: str, values: Sequence[str], sink: RowSink
) -> StatementOutcome:
    """Run one statement, handing its rows to `sink` chunk by chunk as libpq receives them."""
    cursor: StreamingCursor | RawStreamingCursor = (
        RawStreamingCursor(conn) if values else StreamingCursor(conn)
    )
    size = chunk_rows()
    count = 0
    batch: list[Any] = []
    started = False
    # Closed explicitly: a sink's error must not leave the query running on the connection
    # (psycopg's stream is a generator, which cancels its query when closed).
    stream = cast(
        Generator[Any], cursor.stream(sql if values else sql.encode(), list(values) or None, size=size)
    )
    with cursor, closing(stream) as rows:
        for row in rows:
            if not started:
                sink.begin([redshift_type(column.type_code) for column in cursor.description or []])
                started = True
            batch.append(row)
            if len(batch) >= size:
                sink.add(batch)
                count += len(batch)
                batch = []
        if cursor.description is None:
            return StatementOutcome(rows_affected=max(cursor.command_rows, 0))
        if not started:
            sink.begin([redshift_type(column.type_code) for column in cursor.description])
        if batch:
            sink.add(batch)
            count += len(batch)
        return StatementOutcome(columns=describe_columns(cursor), rows=None, rows_affected=count)
