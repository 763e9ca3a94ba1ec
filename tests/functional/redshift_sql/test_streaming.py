"""Rows streamed into a sink: columns of an empty result, row counts of statements without rows,
parameters, and a connection left usable when the sink stops the stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from rsetl.redshift_sql import RedshiftSqlRunner
from rsetl.redshift_sql.streaming import CHUNK_ROWS


class Collect:
    """A sink that keeps what it is given."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.types: list[list[str]] = []
        self.chunks: list[list[tuple[Any, ...]]] = []
        self.stop_after = stop_after

    def begin(self, types: Sequence[str]) -> None:
        self.types.append(list(types))
        self.chunks = []

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        self.chunks.append([tuple(row) for row in rows])
        if self.stop_after is not None and sum(map(len, self.chunks)) >= self.stop_after:
            raise OverflowError("enough")

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return [row for chunk in self.chunks for row in chunk]


def test_rows_arrive_in_chunks_with_their_columns(
    conn: psycopg.Connection, runner: RedshiftSqlRunner
) -> None:
    sink = Collect()
    outcome = runner.run(conn, "SELECT g AS n, 'x' || g AS label FROM generate_series(1, 2500) g", sink=sink)
    assert outcome.rows is None and outcome.rows_affected == 2500
    assert outcome.columns is not None and [c.name for c in outcome.columns] == ["n", "label"]
    assert sink.types == [["int4", "varchar"]]
    assert sink.rows == [(n, f"x{n}") for n in range(1, 2501)]
    assert max(map(len, sink.chunks)) <= CHUNK_ROWS < 2500


def test_an_empty_result_keeps_its_columns_and_their_tables(
    conn: psycopg.Connection, runner: RedshiftSqlRunner
) -> None:
    runner.run(conn, "CREATE TABLE streamed_empty (id INT NOT NULL, note VARCHAR(20))")
    sink = Collect()
    outcome = runner.run(conn, "SELECT id, note FROM streamed_empty", sink=sink)
    assert sink.types == [["int4", "varchar"]] and sink.rows == []
    assert outcome.columns is not None
    assert [(c.name, c.table_name, c.nullable) for c in outcome.columns] == [
        ("id", "streamed_empty", 0),
        ("note", "streamed_empty", 1),
    ]


def test_statements_without_rows_report_their_row_count(
    conn: psycopg.Connection, runner: RedshiftSqlRunner
) -> None:
    sink = Collect()
    assert runner.run(conn, "CREATE TABLE streamed_rows (id INT)", sink=sink).columns is None
    inserted = runner.run(conn, "INSERT INTO streamed_rows SELECT generate_series(1, 7)", sink=sink)
    assert (inserted.columns, inserted.rows_affected) == (None, 7)
    updated = runner.run(conn, "UPDATE streamed_rows SET id = id + 1 WHERE id > :low", {"low": "4"}, sink)
    assert (updated.columns, updated.rows_affected) == (None, 3)
    assert sink.types == []


def test_parameters_and_the_last_statement_of_a_text(
    conn: psycopg.Connection, runner: RedshiftSqlRunner
) -> None:
    sink = Collect()
    runner.run(conn, "SELECT :word AS w", {"word": "bound"}, sink)
    assert sink.rows == [("bound",)]
    runner.run(conn, "SELECT 1 AS a; SELECT 'two' AS b, 3 AS c", sink=sink)
    assert sink.types[-1] == ["varchar", "int4"] and sink.rows == [("two", 3)]


def test_a_sink_that_stops_the_stream_leaves_the_connection_usable(
    conn: psycopg.Connection, runner: RedshiftSqlRunner
) -> None:
    """The query is cancelled and its results drained, so the next statement runs at once."""
    with pytest.raises(OverflowError):
        runner.run(conn, "SELECT g FROM generate_series(1, 10000000) g", sink=Collect(stop_after=1))
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert runner.run(conn, "SELECT 42 AS answer").rows == [(42,)]
