"""What the Data API needs from the SQL layer (`rsetl.redshift_sql`), as structural types.

The service only depends on these shapes, so any runner with the same `run` signature
(the Redshift dialect runner, or a plain pass-through in tests) can sit behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import psycopg


class Column(Protocol):
    """One result column as the SQL layer describes it (`rsetl.redshift_sql.ColumnInfo`)."""

    @property
    def name(self) -> str: ...

    @property
    def redshift_type(self) -> str: ...


class Outcome(Protocol):
    """The result of one statement (`rsetl.redshift_sql.StatementOutcome`)."""

    @property
    def columns(self) -> Sequence[Column] | None: ...

    @property
    def rows(self) -> Sequence[Sequence[Any]] | None: ...

    @property
    def rows_affected(self) -> int: ...


class SqlRunner(Protocol):
    """Runs one Redshift-dialect statement on a connection, binding `:name` parameters."""

    def run(self, conn: psycopg.Connection[Any], sql: str, parameters: dict[str, str] | None) -> Outcome: ...
