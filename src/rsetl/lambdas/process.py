"""One warm worker process of a function: the environment it runs with, and the protocol it speaks
with `worker.py` (its configuration as an argument; a JSON request per line in, the init phase's end
and each response a JSON line out)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from rsetl.lambdas.config import FunctionConfig

__all__ = ["INIT_TIMEOUT_SECONDS", "Worker", "worker_environment"]

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's limit on a function's init phase (importing the handler's module)."""


class Worker:
    """One warm process of a function."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: IO[bytes] | None) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=cwd,
            text=False,
        )
        self._buffer = b""
        self.idle_since = time.monotonic()
        self.closed_output = False
        self.initialized = False
        self.init_error: dict[str, Any] | None = None

    @classmethod
    def launch(
        cls,
        python: str,
        config: FunctionConfig,
        package_dirs: list[Path],
        opt_dir: Path,
        environment: dict[str, str],
        log: IO[bytes] | None,
    ) -> Worker:
        """Start a worker of `config` on `python`; what it prints goes to `log` (None: stderr)."""
        worker_config = {
            "name": config.name,
            "arn": config.arn,
            "handler": config.handler,
            "code_dir": str(Path(config.code_dir).resolve()),
            "package_dirs": [str(path) for path in package_dirs],
            "opt_dir": str(opt_dir),
            "memory_mb": config.memory_mb,
        }
        # -I -S: no site-packages, no user site, no PYTHON* variables; the worker sets sys.path itself.
        command = [python, "-I", "-S", "-u", str(_WORKER_SCRIPT), json.dumps(worker_config)]
        return cls(command, environment, Path(config.code_dir), log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next response, or None when `timeout` passes or the process dies first."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._next_message(deadline)
            if message is None or "init" not in message:
                return message
            self._initialized(message)

    def wait_initialized(self, timeout: float) -> bool:
        """Wait for the end of the init phase (the worker's first line); False if it did not end."""
        deadline = time.monotonic() + timeout
        while not self.initialized:
            message = self._next_message(deadline)
            if message is None:
                return False
            self._initialized(message)
        return True

    def _initialized(self, message: dict[str, Any]) -> None:
        self.initialized = True
        self.init_error = message.get("init")

    def _next_message(self, deadline: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.closed_output = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def worker_environment(
    config: FunctionConfig, region: str, extra_environment: Mapping[str, str], opt_dir: Path
) -> dict[str, str]:
    """A function's environment: Lambda's reserved variables, then `extra_environment` (the local
    endpoint's), then the function's own; values under /opt point at its merged layer folder."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "LAMBDA_TASK_ROOT": str(Path(config.code_dir).resolve()),
        "LAMBDA_RUNTIME_DIR": str(_WORKER_SCRIPT.parent),
        "_HANDLER": config.handler,
    }
    env.update(extra_environment)
    env.update(config.environment)
    for key, value in env.items():
        if value == "/opt" or value.startswith("/opt/"):
            env[key] = str(opt_dir) + value[len("/opt") :]
    return env
