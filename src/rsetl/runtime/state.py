"""The running local endpoint's address, kept in the state directory for the CLI's other commands."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path(".rsetl") / "local"
ENDPOINT_FILE = "endpoint.json"


class NoRuntimeRunning(Exception):
    """No `rsetl local up` serves this state directory."""


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
