"""The start-up check that each function's handler imports (`Runtime.ImportModuleError`,
`Runtime.HandlerNotFound` at start-up rather than at the first invocation), and the fingerprints of
the checks that passed, kept in the user cache so that what passed is not checked again."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from rsetl.cache import user_cache_dir
from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.process import INIT_TIMEOUT_SECONDS, Worker

__all__ = ["INIT_CHECKS_FOLDER", "InitCheck", "fingerprint", "passed_checks"]

INIT_CHECKS_FOLDER = "lambda-init-checks"
"""In the user cache: one empty file per fingerprint of a function whose handler imported at a check,
so a new state directory does not check again what another one checked (the fingerprint is the code,
packages, layers, interpreter and environment the import depends on)."""


def fingerprint(
    config: FunctionConfig,
    environment: Mapping[str, str],
    package_dirs: Iterable[Path],
    python: str,
    endpoint_variables: Iterable[str],
) -> str:
    """What a handler's import can depend on: its files, packages, layers, interpreter, environment.

    The runtime's own endpoint variables (their port changes per start) stand as their names.
    """
    endpoint = set(endpoint_variables)
    stamped_environment = {
        key: "<endpoint>" if key in endpoint and key not in config.environment else value
        for key, value in environment.items()
    }
    trees = [Path(config.code_dir), *(Path(layer.content_dir) for layer in config.layers)]
    files = [_tree_stat(tree) for tree in trees]
    interpreter = Path(python)
    stamp = {
        "handler": config.handler,
        "packages": [str(path) for path in package_dirs],
        "python": [str(interpreter), interpreter.stat().st_mtime_ns if interpreter.exists() else None],
        "environment": stamped_environment,
        "files": files,
    }
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()


def passed_checks(fingerprints: dict[str, str]) -> dict[str, str]:
    """Of `fingerprints` (by function name), those a past check passed."""
    folder = user_cache_dir() / INIT_CHECKS_FOLDER
    return {name: value for name, value in fingerprints.items() if (folder / value).exists()}


def _record_checks(passed: dict[str, str], failed: Iterable[str]) -> None:
    """Keep the fingerprints that passed, forget those that failed."""
    folder = user_cache_dir() / INIT_CHECKS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for value in passed.values():
        (folder / value).touch()
    for value in failed:
        (folder / value).unlink(missing_ok=True)


class InitCheck:
    """Throwaway workers importing their functions' handlers, started by `start_init_check`."""

    def __init__(
        self,
        checks: list[tuple[str, Worker]],
        passed: dict[str, str],
        fingerprints: dict[str, str],
        end: Callable[[Worker], None],
    ) -> None:
        """`checks` pairs each function's name with its worker; `end` stops a worker once checked."""
        self._checks = checks
        self._passed = passed
        self._fingerprints = fingerprints
        self._end = end

    def errors(self, timeout: float = INIT_TIMEOUT_SECONDS) -> dict[str, dict[str, Any]]:
        """The init error of each function whose handler cannot be loaded, by function name.

        Waits up to `timeout` for each worker's init phase, then stops it.
        """
        errors: dict[str, dict[str, Any]] = {}
        for name, worker in self._checks:
            try:
                if worker.wait_initialized(timeout) and worker.init_error is not None:
                    errors[name] = worker.init_error
                elif not worker.initialized and worker.closed_output:
                    worker.process.wait()
                    errors[name] = {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"Runtime exited with error: exit status {worker.process.returncode}",
                    }
                elif worker.initialized:
                    self._passed[name] = self._fingerprints[name]
            finally:
                self._end(worker)
        for name in errors:
            self._passed.pop(name, None)
        _record_checks(self._passed, (self._fingerprints[name] for name in errors))
        return errors


def _tree_stat(root: Path) -> list[tuple[str, int, int]]:
    """Every file under `root` (links followed) with its size and modification time."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found.append((os.path.relpath(path, root), stat.st_size, stat.st_mtime_ns))
    return found
