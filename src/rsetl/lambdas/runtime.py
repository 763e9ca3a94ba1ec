"""The local Lambda runtime: warm worker processes per function, like Lambda's containers."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.exceptions import FunctionNotFound, InvalidFunctionConfig, LambdaServiceError
from rsetl.lambdas.faults import LambdaFault, LambdaFaults

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")

MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Invoke: "For synchronous invocations, the maximum payload size is 6 MB" (request and response)."""
MAX_SYNC_RESPONSE_BYTES = 6291556
"""The response limit in the message Lambda gives for a too-large response (Function.ResponseSizeTooLarge)."""


@dataclass(frozen=True)
class InvokeResult:
    """What Invoke returns: the payload, and `function_error` ("Unhandled") when the function failed."""

    payload: Any
    function_error: str | None = None
    request_id: str = ""


def build_opt_dir(target: Path, layer_dirs: Iterable[Path]) -> None:
    """Merge the layers' folders into `target` (later layers win), the way Lambda fills /opt."""
    target.mkdir(parents=True, exist_ok=True)
    for layer in layer_dirs:
        if not layer.is_dir():
            raise InvalidFunctionConfig(f"Layer folder {layer} does not exist")
        _merge(target, layer.resolve())


def _merge(target: Path, source: Path) -> None:
    for entry in source.iterdir():
        destination = target / entry.name
        if entry.is_dir() and destination.exists() and destination.is_dir():
            if destination.is_symlink():
                # Two layers share this folder: replace the link by a real folder holding both.
                linked = destination.resolve()
                destination.unlink()
                destination.mkdir()
                _merge(destination, linked)
            _merge(destination, entry)
            continue
        if destination.is_symlink() or destination.is_file():
            destination.unlink()
        elif destination.is_dir():
            shutil.rmtree(destination)
        destination.symlink_to(entry, target_is_directory=entry.is_dir())


class _Worker:
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
        self.closed_output = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next response, or None when `timeout` passes or the process dies first."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
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
        return json.loads(line)

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class _Function:
    def __init__(self, config: FunctionConfig, opt_dir: Path, environment: dict[str, str]) -> None:
        self.config = config
        self.opt_dir = opt_dir
        self.environment = environment
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.starting = 0


class LambdaRuntime:
    """Invokes functions in warm worker processes: one per concurrent invocation of a function.

    `extra_environment` is added to every function's environment (the local endpoint
    variables, e.g. AWS_ENDPOINT_URL_REDSHIFT_DATA); values starting with `/opt` point at the
    function's merged layer folder. With `log_dir`, what functions print goes to
    `<log_dir>/<function>.log` (their log group, locally) instead of this process's stderr.
    """

    def __init__(
        self,
        functions: Iterable[FunctionConfig] = (),
        *,
        extra_environment: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        python: str = sys.executable,
        work_dir: Path | None = None,
        log_dir: Path | None = None,
        max_workers_per_function: int | None = None,
    ) -> None:
        self.region = region
        self.python = python
        self.extra_environment = dict(extra_environment or {})
        self.log_dir = log_dir
        self._logs: dict[str, IO[bytes]] = {}
        self._own_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="rsetl-lambda-")) if work_dir is None else work_dir
        self._lock = threading.Lock()
        self._worker_freed = threading.Condition(self._lock)
        self.max_workers_per_function = max_workers_per_function
        self._functions: dict[str, _Function] = {}
        self.invocations: Counter[str] = Counter()
        self.faults = LambdaFaults()
        for config in functions:
            self.register(config)

    def register(self, config: FunctionConfig) -> None:
        """Add a function (its /opt folder is built now; workers start on first use)."""
        code_dir = Path(config.code_dir)
        if not code_dir.is_dir():
            raise InvalidFunctionConfig(f"Function {config.name}: CodeUri folder {code_dir} does not exist")
        if "." not in config.handler:
            raise InvalidFunctionConfig(
                f"Function {config.name}: Handler {config.handler!r} must look like 'module.function'"
            )
        opt_dir = self.work_dir / config.name / "opt"
        if opt_dir.exists():
            shutil.rmtree(opt_dir)
        build_opt_dir(opt_dir, [Path(layer) for layer in config.layer_dirs])
        with self._lock:
            self._functions[config.name] = _Function(config, opt_dir, self._environment(config, opt_dir))

    def _environment(self, config: FunctionConfig, opt_dir: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
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
        env.update(self.extra_environment)
        env.update(config.environment)
        for key, value in env.items():
            if value == "/opt" or value.startswith("/opt/"):
                env[key] = str(opt_dir) + value[len("/opt") :]
        return env

    def function(self, name_or_arn: str) -> FunctionConfig:
        """The config of a function by name, ARN or `name:qualifier`."""
        return self._lookup(name_or_arn).config

    def _lookup(self, name_or_arn: str) -> _Function:
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else ""
        else:
            name = name.split(":", 1)[0]
        with self._lock:
            function = self._functions.get(name)
        if function is None:
            raise FunctionNotFound(f"Function not found: {name_or_arn}")
        return function

    def _start_worker(self, function: _Function) -> _Worker:
        config = function.config
        worker_config = {
            "name": config.name,
            "arn": config.arn,
            "handler": config.handler,
            "code_dir": str(Path(config.code_dir).resolve()),
            "python_paths": [str(function.opt_dir / "python")],
            "memory_mb": config.memory_mb,
        }
        command = [self.python, "-u", str(_WORKER_SCRIPT), json.dumps(worker_config)]
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = self._logs.setdefault(config.name, (self.log_dir / f"{config.name}.log").open("ab"))
        return _Worker(command, function.environment, Path(config.code_dir), log)

    def invoke(self, function_name_or_arn: str, payload: Any) -> InvokeResult:
        """Run the function's handler with `payload` (RequestResponse), as Lambda Invoke does.

        Raises :class:`LambdaServiceError` when the Invoke call itself fails (an injected fault, a
        request over 6 MB).
        """
        function = self._lookup(function_name_or_arn)
        config = function.config
        if len(json.dumps(payload).encode()) > MAX_SYNC_PAYLOAD_BYTES:
            raise LambdaServiceError(
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the Invoke operation",
            )
        fault = self.faults.take(config.name)
        if fault is LambdaFault.SERVICE_ERROR:
            raise LambdaServiceError(
                "ServiceException", f"Injected Lambda service error invoking {config.name}"
            )
        with self._lock:
            self.invocations[config.name] += 1
        if fault is LambdaFault.EXCEPTION:
            request_id = str(uuid.uuid4())
            error = {"errorType": "InjectedError", "errorMessage": f"Injected exception in {config.name}"}
            return InvokeResult({**error, "requestId": request_id, "stackTrace": []}, "Unhandled", request_id)
        result = self._invoke_worker(function, payload)
        if fault is LambdaFault.TIMEOUT:
            return _timed_out(result.request_id, config)
        if not result.function_error and len(json.dumps(result.payload).encode()) > MAX_SYNC_RESPONSE_BYTES:
            limit = MAX_SYNC_RESPONSE_BYTES
            message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
            return InvokeResult(error, "Unhandled", result.request_id)
        return result

    def prewarm(self, workers_per_function: int = 1) -> None:
        """Start workers before the first invocation, as provisioned concurrency does on AWS.

        The processes import their handlers side by side in the background.
        """
        with self._lock:
            functions = list(self._functions.values())
        for function in functions:
            started = [self._start_worker(function) for _ in range(workers_per_function)]
            with self._lock:
                function.idle.extend(started)

    def _take_worker(self, function: _Function) -> _Worker:
        """An idle worker, a new one, or (at `max_workers_per_function`) the next one freed."""
        cap = self.max_workers_per_function
        with self._worker_freed:
            while not function.idle and cap is not None and len(function.busy) + function.starting >= cap:
                self._worker_freed.wait()
            while function.idle:
                worker = function.idle.pop()
                if worker.alive():
                    function.busy.add(worker)
                    return worker
            function.starting += 1
        try:
            worker = self._start_worker(function)
        finally:
            with self._worker_freed:
                function.starting -= 1
                self._worker_freed.notify_all()
        with self._lock:
            function.busy.add(worker)
        return worker

    def _invoke_worker(self, function: _Function, payload: Any) -> InvokeResult:
        config = function.config
        worker = self._take_worker(function)
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + config.timeout_seconds) * 1000)
        try:
            worker.send({"requestId": request_id, "payload": payload, "deadlineMs": deadline_ms})
            response = worker.receive(config.timeout_seconds)
        except (BrokenPipeError, OSError):
            response = None
        with self._worker_freed:
            function.busy.discard(worker)
            if response is not None:
                function.idle.append(worker)
            self._worker_freed.notify_all()
        if response is None:
            return self._lost_worker(worker, request_id, config)
        if "error" in response:
            return InvokeResult(response["error"], "Unhandled", request_id)
        return InvokeResult(response.get("payload"), None, request_id)

    def _lost_worker(self, worker: _Worker, request_id: str, config: FunctionConfig) -> InvokeResult:
        if worker.closed_output:
            # The process closed its output: it is exiting, wait for its status instead of racing it.
            worker.process.wait()
        exited = not worker.alive()
        worker.stop()
        if exited:
            status = worker.process.returncode
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
            return InvokeResult(
                {"errorType": "Runtime.ExitError", "errorMessage": message, "requestId": request_id},
                "Unhandled",
                request_id,
            )
        return _timed_out(request_id, config)

    def close(self) -> None:
        """Stop every worker and remove the runtime's scratch folders."""
        with self._lock:
            workers = [w for f in self._functions.values() for w in (*f.idle, *f.busy)]
            for function in self._functions.values():
                function.idle.clear()
                function.busy.clear()
        for worker in workers:
            worker.stop()
        for log in self._logs.values():
            log.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _timed_out(request_id: str, config: FunctionConfig) -> InvokeResult:
    message = f"RequestId: {request_id} Error: Task timed out after {config.timeout_seconds:.2f} seconds"
    return InvokeResult(
        {"errorType": "Sandbox.Timedout", "errorMessage": message, "requestId": request_id},
        "Unhandled",
        request_id,
    )
