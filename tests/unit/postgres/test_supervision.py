"""The embedded PostgreSQL is supervised: a dead server is restarted on the same data, and what a
killed runtime left behind (a dead pid in the handle list, an orphaned postmaster, a pid file naming
another process) does not stop the next runtime from owning and stopping its server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from rsetl.postgres import PostgresServer
from rsetl.postgres.supervisor import (
    HANDLES_FILE,
    POSTMASTER_FILE,
    is_postmaster_of,
    postmaster_pid,
    process_running,
)

pytestmark = pytest.mark.postgres

_KILLED_RUNTIME = """
import os, signal, sys
from pathlib import Path
from rsetl.postgres import PostgresServer
server = PostgresServer.start(Path(sys.argv[1]))
with server.connect() as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS kept (v text)")
    conn.execute("INSERT INTO kept VALUES ('before the crash')")
os.kill(os.getpid(), signal.SIGKILL)
"""


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_killed_postmaster_is_restarted_and_new_connections_work(state_root: Path) -> None:
    server = PostgresServer.start(state_root / "watchdog")
    try:
        pgdata = (state_root / "watchdog" / "pgdata").resolve()
        first = postmaster_pid(pgdata)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert server.watchdog is not None
        assert _wait_for(lambda: server.watchdog.restarts == 1), "the watchdog did not restart PostgreSQL"
        assert postmaster_pid(pgdata) != first and is_postmaster_of(postmaster_pid(pgdata) or 0, pgdata)
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()


def test_after_a_killed_runtime_the_next_one_owns_and_stops_its_server(state_root: Path) -> None:
    state = state_root / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.Popen([sys.executable, "-c", _KILLED_RUNTIME, str(state)], env=env)
    assert killed.wait(timeout=120) == -signal.SIGKILL
    pgdata = (state / "pgdata").resolve()
    orphan = postmaster_pid(pgdata)
    assert orphan is not None and is_postmaster_of(orphan, pgdata), (
        "the killed runtime left its server running"
    )
    assert json.loads((pgdata / HANDLES_FILE).read_text()) == [killed.pid]

    server = PostgresServer.start(state)
    try:
        assert not process_running(orphan), "the orphaned postmaster was stopped, not reused"
        assert json.loads((pgdata / HANDLES_FILE).read_text()) == [os.getpid()]
        with server.connect() as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("before the crash",)]
        serving = postmaster_pid(pgdata)
    finally:
        server.stop()
    assert serving is not None and _wait_for(lambda: not process_running(serving)), (
        "stop left PostgreSQL running"
    )


def test_a_pid_file_naming_another_process_does_not_block_the_start(state_root: Path) -> None:
    state = state_root / "reused-pid"
    PostgresServer.start(state).stop()
    pgdata = (state / "pgdata").resolve()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        # What a power cut leaves: the pid file of a server that is gone, its pid now another process.
        lines = ["0"] * 8
        lines[0], lines[1] = str(sleeper.pid), str(pgdata)
        (pgdata / POSTMASTER_FILE).write_text("\n".join(lines) + "\n")
        server = PostgresServer.start(state)
        try:
            with server.connect() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            server.stop()
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.conninfo(), connect_timeout=2)
