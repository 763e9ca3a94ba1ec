"""What the Data API needs from the SQL layer (`rsetl.redshift_sql`), as structural types.

The service only depends on these shapes, so any runner with the same `parse` and `run_script`
(the Redshift dialect runner, or a plain pass-through in tests) can sit behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import psycopg

from rsetl.redshift_sql import ColumnInfo, RowSink


class Outcome(Protocol):
    """The result of one statement (`rsetl.redshift_sql.StatementOutcome`)."""

    @property
    def columns(self) -> Sequence[ColumnInfo] | None: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]] | None: ...

    @property
    def rows_affected(self) -> int: ...


class Script(Protocol):
    """A SQL text parsed once when it is submitted (`rsetl.redshift_sql.SqlScript`)."""

    @property
    def parameters(self) -> frozenset[str]:
        """The `:name` parameters it references."""
        ...

    @property
    def touches_session(self) -> bool:
        """Whether it may leave session state (temp tables, settings...) on its connection."""
        ...

    @property
    def changes_isolation(self) -> bool:
        """Whether it sets a database's isolation level."""
        ...


class SqlRunner(Protocol):
    """Parses a Redshift-dialect SQL text once, at submit, and runs it on a connection, binding
    `:name` parameters; rows go to `sink` as they stream from the database, not into the outcome."""

    def parse(self, sql: str) -> Script: ...

    def run_script(
        self,
        conn: psycopg.Connection[Any],
        script: Any,
        parameters: Mapping[str, str] | None = None,
        sink: RowSink | None = None,
    ) -> Outcome: ...
