"""The running local endpoint's address, kept in the state directory for the CLI's other commands."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

DEFAULT_STATE_DIR = Path(".rsetl") / "local"
ENDPOINT_FILE = "endpoint.json"
LOCK_FILE = "up.lock"


class NoRuntimeRunning(Exception):
    """No `rsetl local up` serves this state directory."""


class StateDirInUse(Exception):
    """Another `rsetl local up` serves this state directory."""


def hold_state_dir(state_dir: Path) -> IO[str]:
    """Lock `state_dir` for this process until the returned file is closed or the process ends.

    Two runtimes on one directory would both write its objects and share its PostgreSQL. The lock
    is the kernel's (flock), so a runtime killed with `kill -9` leaves no stale lock behind.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise StateDirInUse(
            f"another `rsetl local up` (pid {holder}) serves {state_dir}: "
            "stop it, or pass another --state-dir"
        ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


@dataclass(frozen=True)
class EndpointInfo:
    url: str
    pid: int
    region: str
    access_key: str
    secret_key: str
    stack_name: str
    state_machines: dict[str, str]
    """Logical id -> ARN of each state machine the template declares."""
    buckets: dict[str, str]
    """Logical id -> name of each bucket."""


def write_endpoint(state_dir: Path, info: EndpointInfo) -> Path:
    path = state_dir / ENDPOINT_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(info), indent=2))
    return path


def clear_endpoint(state_dir: Path) -> None:
    (state_dir / ENDPOINT_FILE).unlink(missing_ok=True)


def read_endpoint(state_dir: Path) -> EndpointInfo:
    """The endpoint of the runtime serving `state_dir`, or NoRuntimeRunning saying what to do."""
    path = state_dir / ENDPOINT_FILE
    hint = f"start one with `rsetl local up --state-dir {state_dir}`"
    try:
        info = EndpointInfo(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise NoRuntimeRunning(f"no local runtime is running for {state_dir}: {hint}") from None
    except NotADirectoryError:
        raise NoRuntimeRunning(f"the state dir {state_dir} is a file, not a folder") from None
    except OSError as error:
        raise NoRuntimeRunning(f"{path} is unreadable ({error.strerror}): {hint}") from None
    except (ValueError, TypeError) as error:
        raise NoRuntimeRunning(f"{path} is unreadable ({error}): {hint}") from None
    if not _alive(info.pid):
        raise NoRuntimeRunning(f"the local runtime for {state_dir} (pid {info.pid}) has stopped: {hint}")
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
