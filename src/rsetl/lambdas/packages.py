"""The packages `sam build` installs from a requirements.txt, built once per requirements and cached.

A cached folder is named by a hash of the requirements text and of the interpreter that runs the
functions, so functions with the same requirements share one folder and a second start-up only
looks the hash up. Several processes may build at once (pytest sessions, runtimes): one builds
under a file lock into a scratch folder and renames it into place, the others wait and reuse it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rsetl.cache import user_cache_dir
from rsetl.lambdas.exceptions import PackageInstallError

CACHE_DIR_VARIABLE = "RSETL_LAMBDA_ENV_CACHE"
"""Environment variable naming the cache folder (default `~/.cache/rsetl/lambda-envs`)."""

_LAYOUT_VERSION = "1"
"""Part of every hash: bump it when the layout of a cached folder changes."""


def default_cache_dir() -> Path:
    """`$RSETL_LAMBDA_ENV_CACHE`, else `$XDG_CACHE_HOME/rsetl/lambda-envs` (`~/.cache` by default)."""
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return user_cache_dir() / "lambda-envs"


@dataclass(frozen=True)
class Interpreter:
    """What decides which wheels pip picks for an interpreter, and the runtime it stands for."""

    version: str
    """`3.11`: the functions' runtime is `python3.11`."""
    tag: str
    """`cpython-311 linux-x86_64`."""

    @property
    def runtime(self) -> str:
        return f"python{self.version}"


@cache
def interpreter(python: str) -> Interpreter:
    """The :class:`Interpreter` of the executable `python` (asked only when it is not this one)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return Interpreter(version, f"{sys.implementation.cache_tag} {sysconfig.get_platform()}")
    probe = (
        "import sys, sysconfig; v = sys.version_info; "
        "print(f'{v.major}.{v.minor}', sys.implementation.cache_tag, sysconfig.get_platform())"
    )
    output = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=True).stdout
    version, cache_tag, platform = output.split()
    return Interpreter(version, f"{cache_tag} {platform}")


class PackageCache:
    """Folders holding what `pip install --target` puts there for one requirements.txt each."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        python: str = sys.executable,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.root = default_cache_dir() if root is None else root
        self.python = python
        self.on_progress = on_progress or (lambda line: None)

    def key(self, requirements: Path) -> str:
        """The hash naming the folder of `requirements` for this interpreter."""
        text = "\n".join(line.strip() for line in requirements.read_text().splitlines())
        material = json.dumps([_LAYOUT_VERSION, interpreter(self.python).tag, text])
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def installed(self, requirements: Path, purpose: str) -> Path:
        """The folder with the packages of `requirements`, installed now if not cached yet.

        `purpose` says in the progress lines what the packages are for (a function or a layer).
        Raises :class:`PackageInstallError` when pip fails.
        """
        key = self.key(requirements)
        target = self.root / key
        if target.is_dir():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        waiting = f"waiting for another process installing {requirements} into {target}"
        with _locked(self.root / f"{key}.lock", lambda: self.on_progress(waiting)):
            if target.is_dir():
                return target
            for leftover in self.root.glob(f".{key}-*"):
                # Builders hold the lock while they build: a scratch folder found now is a killed one's.
                shutil.rmtree(leftover, ignore_errors=True)
            self.on_progress(f"installing {requirements} for {purpose} (first run; cached in {target})")
            started = time.monotonic()
            scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
            try:
                self._pip_install(requirements, scratch, purpose)
                os.rename(scratch, target)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            self.on_progress(f"installed {requirements} for {purpose} in {time.monotonic() - started:.1f} s")
        return target

    def _pip_install(self, requirements: Path, target: Path, purpose: str) -> None:
        command = [
            self.python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
            "--target", str(target), "--requirement", str(requirements.resolve()),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=requirements.parent)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise PackageInstallError(
                f"pip could not install {requirements} for {purpose} (exit status {done.returncode}):\n{tail}"
            )


@contextmanager
def _locked(path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive lock on `path`; `on_wait` runs first when another holder makes us wait."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
