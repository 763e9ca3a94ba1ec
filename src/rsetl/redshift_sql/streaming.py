"""Rows streamed from PostgreSQL in chunks, so a large result is never held whole in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from psycopg import pq
from psycopg.generators import fetch

CHUNK_ROWS = 1000
"""Rows per chunk libpq hands over (chunked-rows mode, libpq 17 and later; else one at a time)."""

_ROW_STATUSES = (pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)
_END_STATUSES = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)


class RowSink(Protocol):
    """Receives a statement's rows as they arrive from the database."""

    def begin(self, types: Sequence[str]) -> None:
        """A statement returning rows starts; `types` are its columns' Redshift type names.

        Called again by a later statement of the same text, whose rows replace these."""

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """The next rows, in order."""


class _KeepsTheEnd(psycopg.Cursor[Any]):
    """`stream()` that keeps the result ending the stream, so an empty result still has its
    columns and a statement without rows (INSERT, DDL) ends quietly with its row count.

    psycopg's own stream drops that last result and refuses statements without rows; this
    replaces the one generator that reads results (psycopg 3.2 and 3.3 share it).
    """

    command_rows: int = -1

    def _stream_fetchone_gen(self, first: bool) -> Any:
        res = yield from fetch(self._pgconn)
        if res is None:
            return None
        if res.status in _ROW_STATUSES:
            self.pgresult = res
            self._tx.set_pgresult(res, set_loaders=first)
            if first:
                self._make_row = self._make_row_maker()
            return res
        if res.status in _END_STATUSES:
            self.pgresult = res
            self._tx.set_pgresult(res, set_loaders=first)
            self.command_rows = res.command_tuples if res.command_tuples is not None else -1
            while (yield from fetch(self._pgconn)) is not None:
                pass
            return None
        return self._raise_for_result(res)


class StreamingCursor(_KeepsTheEnd):
    """A cursor whose `stream()` also serves statements without rows."""


class RawStreamingCursor(psycopg.RawCursor[Any], _KeepsTheEnd):
    """The same for `$n` placeholders (parameters bound as data)."""


def chunk_rows() -> int:
    """Chunked-rows mode where libpq has it (17 and later), else single-row mode."""
    return CHUNK_ROWS if psycopg.capabilities.has_stream_chunked() else 1
