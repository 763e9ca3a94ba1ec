"""What the Data API needs from the SQL layer (`rsetl.redshift_sql`), as structural types.

The service only depends on these shapes, so any runner with the same `run` signature
(the Redshift dialect runner, or a plain pass-through in tests) can sit behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import psycopg

from rsetl.redshift_sql import RowSink


class Column(Protocol):
    """One result column as the SQL layer describes it (`rsetl.redshift_sql.ColumnInfo`)."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def redshift_type(self) -> str: ...

    @property
    def precision(self) -> int: ...

    @property
    def scale(self) -> int: ...

    @property
    def nullable(self) -> int: ...

    @property
    def schema_name(self) -> str: ...

    @property
    def table_name(self) -> str: ...

    @property
    def is_case_sensitive(self) -> bool: ...

    @property
    def is_signed(self) -> bool: ...

    @property
    def is_currency(self) -> bool: ...

    @property
    def length(self) -> int: ...


class Outcome(Protocol):
    """The result of one statement (`rsetl.redshift_sql.StatementOutcome`)."""

    @property
    def columns(self) -> Sequence[Column] | None: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]] | None: ...

    @property
    def rows_affected(self) -> int: ...


class SqlRunner(Protocol):
    """Runs one Redshift-dialect statement on a connection, binding `:name` parameters; rows go
    to `sink` as they stream from the database, not into the outcome."""

    def run(
        self,
        conn: psycopg.Connection[Any],
        sql: str,
        parameters: Mapping[str, str] | None = None,
        sink: RowSink | None = None,
    ) -> Outcome: ...
