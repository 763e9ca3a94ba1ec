"""The local Lambda runtime: worker processes per function, started on demand and kept warm a while,
like Lambda's execution environments."""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rsetl.cache import user_cache_dir
from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.exceptions import FunctionNotFound, InvalidFunctionConfig, LambdaServiceError
from rsetl.lambdas.faults import LambdaFault, LambdaFaults
from rsetl.lambdas.packages import PackageCache, interpreter

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")

INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's limit on a function's init phase (importing the handler's module)."""
DEFAULT_IDLE_SECONDS = 300.0
"""How long a worker stays warm after its last invocation. Lambda keeps an environment "for some
time in anticipation of another function invocation" and does not say how long; 5 minutes is the
commonly observed lower end."""
INIT_CHECKS_FOLDER = "lambda-init-checks"
"""In the user cache: one empty file per fingerprint of a function whose handler imported at a check,
so a new state directory does not check again what another one checked (the fingerprint is the code,
packages, layers, interpreter and environment the import depends on)."""
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


def build_opt_dir(target: Path, contents: Iterable[tuple[str, Path]]) -> None:
    """Merge folders into `target` (later ones win), the way Lambda extracts layers into /opt.

    Each item is `(subfolder, folder)`: the entries of `folder` land in `target/subfolder`
    (`""` for a layer packaged as it is, `"python"` for what `sam build` puts under python/).
    """
    target.mkdir(parents=True, exist_ok=True)
    for subfolder, source in contents:
        if not source.is_dir():
            raise InvalidFunctionConfig(f"Layer folder {source} does not exist")
        destination = target / subfolder if subfolder else target
        destination.mkdir(parents=True, exist_ok=True)
        _merge(destination, source.resolve())


def layer_subfolder(build_method: str) -> str:
    """Where `sam build` puts a layer built with `build_method` (samcli's get_layer_subfolder)."""
    if re.fullmatch(r"python3\.\d+", build_method):
        return "python"
    raise InvalidFunctionConfig(
        f"Layer BuildMethod {build_method!r} cannot be built locally (only python3.x BuildMethods are)"
    )


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
        self.idle_since = time.monotonic()
        self.closed_output = False
        self.initialized = False
        self.init_error: dict[str, Any] | None = None

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


class _Function:
    def __init__(
        self,
        config: FunctionConfig,
        opt_dir: Path,
        package_dirs: list[Path],
        environment: dict[str, str],
        lock: threading.Lock,
    ) -> None:
        self.config = config
        self.opt_dir = opt_dir
        self.package_dirs = package_dirs
        self.environment = environment
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.starting = 0
        self.slot_freed = threading.Condition(lock)
        """Notified once per worker slot of this function that frees up (one waiter takes it): a
        condition shared by every function, notifying all, woke each waiting invocation at every
        release, so a burst cost the square of its size in wake-ups."""


class LambdaRuntime:
    """Invokes functions in worker processes: one per concurrent invocation of a function.

    As in Lambda's execution environment lifecycle, a worker starts (its init phase, bounded by
    INIT_TIMEOUT_SECONDS) when an invocation finds none free, serves invocations one at a time, and
    shuts down after `idle_seconds` without one (None: never).

    Each function runs with what `sam build` packages for it and nothing else: its code, the
    packages of its requirements.txt, its layers (with their requirements when they declare a
    BuildMethod) and the standard library; `python` runs isolated (`-I -S`), so the packages of
    its own environment stay out. `packages` installs and caches requirements (default: a
    :class:`PackageCache` in the user cache folder); `on_progress` hears what is being installed.

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
        packages: PackageCache | None = None,
        on_progress: Callable[[str], None] | None = None,
        idle_seconds: float | None = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.region = region
        self.python = python
        self.packages = packages or PackageCache(python=python, on_progress=on_progress)
        self.warnings: list[str] = []
        """Differences from AWS found at registration that the runtime cannot model (say them to the user)."""
        self.extra_environment = dict(extra_environment or {})
        self.log_dir = log_dir
        self._logs: dict[str, IO[bytes]] = {}
        self._own_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="rsetl-lambda-")) if work_dir is None else work_dir
        self._lock = threading.Lock()
        self.max_workers_per_function = max_workers_per_function
        self._functions: dict[str, _Function] = {}
        self.invocations: Counter[str] = Counter()
        self.faults = LambdaFaults()
        self._checking: set[_Worker] = set()
        self.idle_seconds = idle_seconds
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None
        if idle_seconds is not None:
            self._reaper = threading.Thread(target=self._reap_idle, name="lambda-idle-reaper", daemon=True)
            self._reaper.start()
        for config in functions:
            self.register(config)

    def _reap_idle(self) -> None:
        """Shut down workers idle for `idle_seconds` (Lambda's Shutdown phase of an unused environment)."""
        assert self.idle_seconds is not None
        interval = min(max(self.idle_seconds / 4, 0.05), 5.0)
        while not self._closed.wait(interval):
            cutoff = time.monotonic() - self.idle_seconds
            with self._lock:
                expired = [w for f in self._functions.values() for w in f.idle if w.idle_since <= cutoff]
                for function in self._functions.values():
                    function.idle = [w for w in function.idle if w.idle_since > cutoff]
            for worker in expired:
                worker.stop()

    def worker_pids(self) -> list[int]:
        """The process IDs of the running workers, idle or busy."""
        with self._lock:
            return [w.process.pid for f in self._functions.values() for w in (*f.idle, *f.busy)]

    def register(self, config: FunctionConfig) -> None:
        """Add a function: its packages are installed (or found cached) and its /opt folder built now.

        Workers start on first use.
        """
        code_dir = Path(config.code_dir)
        if not code_dir.is_dir():
            raise InvalidFunctionConfig(f"Function {config.name}: CodeUri folder {code_dir} does not exist")
        if "." not in config.handler:
            raise InvalidFunctionConfig(
                f"Function {config.name}: Handler {config.handler!r} must look like 'module.function'"
            )
        self._check_runtimes(config)
        opt_dir = self.work_dir / config.name / "opt"
        if opt_dir.exists():
            shutil.rmtree(opt_dir)
        build_opt_dir(opt_dir, self._opt_contents(config))
        requirements = code_dir / "requirements.txt"
        package_dirs = (
            [self.packages.installed(requirements, f"function {config.name}")]
            if requirements.is_file()
            else []
        )
        function = _Function(config, opt_dir, package_dirs, self._environment(config, opt_dir), self._lock)
        with self._lock:
            self._functions[config.name] = function

    def _opt_contents(self, config: FunctionConfig) -> list[tuple[str, Path]]:
        """What lands in /opt: each layer's folder, and under python/ what `sam build` built for it."""
        contents: list[tuple[str, Path]] = []
        for layer in config.layers:
            content_dir = Path(layer.content_dir)
            if layer.build_method is None:
                contents.append(("", content_dir))
                continue
            subfolder = layer_subfolder(layer.build_method)
            contents.append((subfolder, content_dir))
            requirements = content_dir / "requirements.txt"
            if requirements.is_file():
                purpose = f"layer {layer.name or content_dir}"
                contents.append((subfolder, self.packages.installed(requirements, purpose)))
        return contents

    def _check_runtimes(self, config: FunctionConfig) -> None:
        """Warn when the template's runtime is not the Python that runs the function here."""
        local = interpreter(self.python).runtime
        declared = [(f"Function {config.name}: Runtime", config.runtime)]
        declared += [(f"Layer {layer.name or layer.content_dir}: BuildMethod", layer.build_method)
                     for layer in config.layers]  # fmt: skip
        for what, runtime in declared:
            if runtime is not None and runtime != local:
                warning = (
                    f"{what} is {runtime} but it runs locally on {local} ({self.python}): "
                    f"what passes here may fail on {runtime} in AWS"
                )
                if warning not in self.warnings:
                    self.warnings.append(warning)

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
            "package_dirs": [str(path) for path in function.package_dirs],
            "opt_dir": str(function.opt_dir),
            "memory_mb": config.memory_mb,
        }
        # -I -S: no site-packages, no user site, no PYTHON* variables; the worker sets sys.path itself.
        command = [self.python, "-I", "-S", "-u", str(_WORKER_SCRIPT), json.dumps(worker_config)]
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

    def startup_errors(self, timeout: float = INIT_TIMEOUT_SECONDS) -> dict[str, dict[str, Any]]:
        """The init error of each function whose handler cannot be loaded, by function name.

        `Runtime.ImportModuleError` and `Runtime.HandlerNotFound` show at start-up instead of at the
        first invocation; see :meth:`start_init_check`.
        """
        return self.start_init_check().errors(timeout)

    def start_init_check(self) -> InitCheck:
        """Start a throwaway worker per function to import its handler; the check's `errors()` waits.

        A function whose code, packages, layers, interpreter and environment are those of its last
        clean check is not checked again; its first invocation still runs the real init phase, as
        Lambda's does.
        """
        with self._lock:
            functions = list(self._functions.values())
        fingerprints = {f.config.name: self._fingerprint(f) for f in functions}
        passed = self._passed_checks(fingerprints)
        checks = [
            (function, self._start_worker(function))
            for function in functions
            if passed.get(function.config.name) != fingerprints[function.config.name]
        ]
        with self._lock:
            self._checking.update(worker for _, worker in checks)
        return InitCheck(self, checks, passed, fingerprints)

    def _end_init_check(self, worker: _Worker) -> None:
        with self._lock:
            self._checking.discard(worker)
        worker.stop()

    def _record_checks(self, passed: dict[str, str], failed: Iterable[str]) -> None:
        """Keep the fingerprints that passed, forget those that failed (fingerprints)."""
        folder = user_cache_dir() / INIT_CHECKS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for fingerprint in passed.values():
            (folder / fingerprint).touch()
        for fingerprint in failed:
            (folder / fingerprint).unlink(missing_ok=True)

    def _passed_checks(self, fingerprints: dict[str, str]) -> dict[str, str]:
        """Of `fingerprints` (by function name), those a past check passed."""
        folder = user_cache_dir() / INIT_CHECKS_FOLDER
        return {name: value for name, value in fingerprints.items() if (folder / value).exists()}

    def _fingerprint(self, function: _Function) -> str:
        """What a handler's import can depend on: its files, packages, layers, interpreter, environment.

        The runtime's own endpoint variables (their port changes per start) stand as their names.
        """
        config = function.config
        environment = {
            key: "<endpoint>" if key in self.extra_environment and key not in config.environment else value
            for key, value in function.environment.items()
        }
        trees = [Path(config.code_dir), *(Path(layer.content_dir) for layer in config.layers)]
        files = [_tree_stat(tree) for tree in trees]
        python = Path(self.python)
        stamp = {
            "handler": config.handler,
            "packages": [str(path) for path in function.package_dirs],
            "python": [str(python), python.stat().st_mtime_ns if python.exists() else None],
            "environment": environment,
            "files": files,
        }
        return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()

    def _take_worker(self, function: _Function) -> _Worker:
        """An idle worker, a new one, or (at `max_workers_per_function`) the next one freed."""
        cap = self.max_workers_per_function
        with function.slot_freed:
            while not function.idle and cap is not None and len(function.busy) + function.starting >= cap:
                function.slot_freed.wait()
            while function.idle:
                worker = function.idle.pop()
                if worker.alive():
                    function.busy.add(worker)
                    return worker
            function.starting += 1
        try:
            worker = self._start_worker(function)
        except BaseException:
            with function.slot_freed:
                function.starting -= 1
                function.slot_freed.notify()
            raise
        with function.slot_freed:
            # One step from starting to busy: the slot never looks free in between.
            function.starting -= 1
            function.busy.add(worker)
        return worker

    def _invoke_worker(self, function: _Function, payload: Any) -> InvokeResult:
        config = function.config
        worker = self._take_worker(function)
        request_id = str(uuid.uuid4())
        # A new worker's init phase has its own limit; the function's timeout counts from the Invoke.
        # An init that overruns it goes on within the invocation, under the function's timeout.
        worker.wait_initialized(INIT_TIMEOUT_SECONDS)
        deadline_ms = int((time.time() + config.timeout_seconds) * 1000)
        try:
            worker.send({"requestId": request_id, "payload": payload, "deadlineMs": deadline_ms})
            response = worker.receive(config.timeout_seconds)
        except (BrokenPipeError, OSError):
            response = None
        with function.slot_freed:
            function.busy.discard(worker)
            if response is not None:
                worker.idle_since = time.monotonic()
                function.idle.append(worker)
            function.slot_freed.notify()
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
        self._closed.set()
        if self._reaper is not None:
            self._reaper.join()
        with self._lock:
            workers = [w for f in self._functions.values() for w in (*f.idle, *f.busy)]
            workers += self._checking
            self._checking.clear()
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


class InitCheck:
    """Throwaway workers importing their functions' handlers, started by `start_init_check`."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        checks: list[tuple[_Function, _Worker]],
        passed: dict[str, str],
        fingerprints: dict[str, str],
    ) -> None:
        self._runtime = runtime
        self._checks = checks
        self._passed = passed
        self._fingerprints = fingerprints

    def errors(self, timeout: float = INIT_TIMEOUT_SECONDS) -> dict[str, dict[str, Any]]:
        """The init error of each function whose handler cannot be loaded, by function name.

        Waits up to `timeout` for each worker's init phase, then stops it.
        """
        errors: dict[str, dict[str, Any]] = {}
        for function, worker in self._checks:
            name = function.config.name
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
                self._runtime._end_init_check(worker)
        for name in errors:
            self._passed.pop(name, None)
        self._runtime._record_checks(self._passed, (self._fingerprints[name] for name in errors))
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


def _timed_out(request_id: str, config: FunctionConfig) -> InvokeResult:
    message = f"RequestId: {request_id} Error: Task timed out after {config.timeout_seconds:.2f} seconds"
    return InvokeResult(
        {"errorType": "Sandbox.Timedout", "errorMessage": message, "requestId": request_id},
        "Unhandled",
        request_id,
    )
