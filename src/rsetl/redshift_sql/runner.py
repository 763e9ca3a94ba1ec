"""Run Redshift-dialect SQL on a PostgreSQL connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from rsetl.objectstore import ObjectStore
from rsetl.redshift_sql.copy import run_copy
from rsetl.redshift_sql.exceptions import UnsupportedSqlError
from rsetl.redshift_sql.isolation import run_isolation
from rsetl.redshift_sql.lexer import bind_parameters, split_statements
from rsetl.redshift_sql.results import StatementOutcome, describe_columns
from rsetl.redshift_sql.translate import Translation, translate
from rsetl.redshift_sql.unload import run_unload


class RedshiftSqlRunner:
    """Translates and runs Redshift SQL; COPY and UNLOAD use `object_store` for s3:// URLs."""

    def __init__(self, object_store: ObjectStore) -> None:
        self.object_store = object_store

    def run(
        self, conn: psycopg.Connection[Any], sql: str, parameters: Mapping[str, str] | None = None
    ) -> StatementOutcome:
        """Run `sql` (one statement, or several separated by semicolons) and return the last outcome.

        `:name` parameters are bound from `parameters` first. Raises ParameterError,
        UnsupportedSqlError, LoadError, S3AccessError, UnloadError or psycopg errors.
        """
        statements = split_statements(bind_parameters(sql, parameters))
        if not statements:
            raise UnsupportedSqlError("an empty SQL text")
        translations = [translate(statement) for statement in statements]
        outcome = StatementOutcome()
        for translation in translations:
            outcome = self.execute(conn, translation)
        return outcome

    def translate(self, sql: str, parameters: Mapping[str, str] | None = None) -> list[Translation]:
        """The translations `run` would execute, for inspection and tests."""
        return [translate(statement) for statement in split_statements(bind_parameters(sql, parameters))]

    def execute(self, conn: psycopg.Connection[Any], translation: Translation) -> StatementOutcome:
        """Execute one translated statement."""
        if translation.kind == "noop":
            return StatementOutcome()
        if translation.copy is not None:
            return StatementOutcome(rows_affected=run_copy(conn, translation.copy, self.object_store))
        if translation.unload is not None:
            return StatementOutcome(rows_affected=run_unload(conn, translation.unload, self.object_store))
        if translation.isolation is not None:
            run_isolation(conn, translation.isolation)
            return StatementOutcome()
        with conn.cursor() as cursor:
            cursor.execute(translation.sql.encode(), prepare=False)
            if cursor.description is None:
                return StatementOutcome(rows_affected=max(cursor.rowcount, 0))
            columns = describe_columns(cursor)
            rows = cursor.fetchall()
        return StatementOutcome(columns=columns, rows=rows, rows_affected=len(rows))
