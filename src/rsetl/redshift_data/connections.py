"""PostgreSQL connections for statements: a pool per database and user, and session-owned connections."""

from __future__ import annotations

import re
import select
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from rsetl.redshift_data.exceptions import DatabaseConnectionException
from rsetl.redshift_data.users import DatabaseLogin, DatabaseUsers, LoginError

_FATAL = re.compile(r"FATAL:\s+(.*)", re.DOTALL)

ConnInfo = Callable[[str], str]
"""Maps a database name to a libpq connection string."""


def connect(conninfo: str) -> psycopg.Connection[Any]:
    """A new autocommit connection, as every Data API statement outside a transaction runs."""
    # No server-side prepared statements: pooled connections are reset with DISCARD ALL.
    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)


SERIALIZATION_FAILURE = "ERROR: 1023 DETAIL: Serializable isolation violation on table"
"""How Redshift reports a transaction its isolation level rolled back ("Fixing serializable isolation
errors", https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)."""


def error_text(error: Exception) -> str:
    """Redshift-style error text, e.g. `ERROR: relation "x" does not exist`.

    A serialization failure (SQLSTATE 40001: a concurrent update under SNAPSHOT, a dependency
    cycle under SERIALIZABLE) reads as Redshift's error 1023, followed by PostgreSQL's reason.
    """
    if isinstance(error, psycopg.errors.SerializationFailure):
        return f"{SERIALIZATION_FAILURE} ({error.diag.message_primary or 'could not serialize access'})"
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        severity = error.diag.severity_nonlocalized or error.diag.severity or "ERROR"
        return f"{severity}: {error.diag.message_primary}"
    text = str(error).strip()
    match = _FATAL.search(text)
    if match:
        return f"FATAL: {match.group(1).strip().splitlines()[0]}"
    return text if text.startswith(("ERROR:", "FATAL:")) else f"ERROR: {text}"


def _alive(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle pooled connection can still be used, without a round trip to the server.

    An idle session's server sends nothing unasked; what a dead one left is readable at once: the
    FATAL message of a terminated backend, or the end of the stream of a server that went away. So a
    zero-timeout poll of its socket tells them apart (a `SELECT 1` cost one round trip per statement).
    """
    if conn.closed or conn.broken:
        return False
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)


class ConnectionPool:
    """Idle connections per database and user, so a statement does not pay for a new backend.

    A statement gets a connection to itself; before a connection is reused its session state
    is reset (`DISCARD ALL`), so temp tables and settings do not leak between statements, as
    on AWS where each statement outside a Data API session runs in its own session. Each
    connection logs in as its database user (see `rsetl.redshift_data.users`).
    """

    def __init__(self, users: DatabaseUsers, max_idle_per_key: int = 16) -> None:
        self.users = users
        self._max_idle = max_idle_per_key
        self._idle: dict[tuple[str, str], list[psycopg.Connection[Any]]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._born: weakref.WeakKeyDictionary[psycopg.Connection[Any], int] = weakref.WeakKeyDictionary()
        """The pool generation each connection was opened in (see `close`)."""

    def acquire(self, database: str, login: DatabaseLogin) -> psycopg.Connection[Any]:
        """An idle or new connection to `database` as `login`; raises LoginError or psycopg errors."""
        key = (database, login.user)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                conn = connect(self.users.conninfo(database, login))
                with self._lock:
                    self._born[conn] = self._generation
                return conn
            if _alive(conn):
                return conn
            conn.close()

    def release(
        self, database: str, login: DatabaseLogin, conn: psycopg.Connection[Any], dirty: bool
    ) -> None:
        """Return `conn`; `dirty` when the statement may have left session state behind.

        A connection handed out before the last `close` is closed, not kept: it may hold the
        isolation level the close was for, and it would keep a backend on its database.
        """
        with self._lock:
            stale = self._born.get(conn) != self._generation
        if stale or conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
            return
        if dirty:
            try:
                conn.execute("DISCARD ALL")
            except psycopg.Error:
                conn.close()
                return
        with self._lock:
            idle = self._idle.setdefault((database, login.user), [])
            if len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()

    @contextmanager
    def borrowed(self, database: str, login: DatabaseLogin) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one read of the catalog, returned clean; DatabaseConnectionException when
        the database cannot be reached or the user cannot log in."""
        try:
            conn = self.acquire(database, login)
        except psycopg.Error as error:
            raise DatabaseConnectionException(error_text(error)) from None
        except LoginError as error:
            raise DatabaseConnectionException(str(error)) from None
        try:
            yield conn
        finally:
            self.release(database, login, conn, dirty=False)

    def close(self) -> None:
        """Close every idle connection: after a database's isolation level changed, and at shutdown.

        A connection takes its database's isolation level when it opens, so the next statements
        must run on new connections; those in use now are closed when they are released.
        """
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
            self._generation += 1
        for conn in idle:
            conn.close()


@dataclass(eq=False)
class Session:
    """A Data API session: one PostgreSQL connection kept between statements."""

    id: str
    principal: str
    database: str
    login: DatabaseLogin
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    keep_alive: int
    expires_at: datetime | None = None
    """None while a statement runs; set from `keep_alive` when it ends."""
    current_statement: str | None = None
    connection: psycopg.Connection[Any] | None = None
    closed: bool = False
    owner: str = ""
    """Who may use the session: the IAM role for any of its sessions, else `principal`."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self) -> dict[str, Any]:
        """ListSessions' SessionInfo."""
        return {
            "SessionId": self.id,
            "Status": "CLOSED" if self.closed else ("BUSY" if self.current_statement else "AVAILABLE"),
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "Database": self.database,
            "DbUser": self.request.get("DbUser"),
            "ClusterIdentifier": self.request.get("ClusterIdentifier"),
            "WorkgroupName": self.request.get("WorkgroupName"),
            "SessionAliveSeconds": self.keep_alive,
            "SessionTtl": self.expires_at,
            "CurrentStatementId": self.current_statement,
        }

    def close(self) -> None:
        self.closed = True
        if self.connection is not None:
            self.connection.close()
            self.connection = None
