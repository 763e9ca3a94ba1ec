"""The local Lambda runtime: worker processes per function, started on demand and kept warm a while,
like Lambda's execution environments."""

from __future__ import annotations

import json
import shutil
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

from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.exceptions import FunctionNotFound, InvalidFunctionConfig, LambdaServiceError
from rsetl.lambdas.faults import LambdaFault, LambdaFaults
from rsetl.lambdas.init_check import InitCheck, fingerprint, passed_checks
from rsetl.lambdas.layers import build_opt_dir, opt_contents
from rsetl.lambdas.packages import PackageCache, interpreter
from rsetl.lambdas.process import INIT_TIMEOUT_SECONDS, Worker, worker_environment

DEFAULT_IDLE_SECONDS = 300.0
"""How long a worker stays warm after its last invocation. Lambda keeps an environment "for some
time in anticipation of another function invocation" and does not say how long; 5 minutes is the
commonly observed lower end."""
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
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
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
        self._checking: set[Worker] = set()
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
        build_opt_dir(opt_dir, opt_contents(config, self.packages))
        requirements = code_dir / "requirements.txt"
        package_dirs = (
            [self.packages.installed(requirements, f"function {config.name}")]
            if requirements.is_file()
            else []
        )
        environment = worker_environment(config, self.region, self.extra_environment, opt_dir)
        function = _Function(config, opt_dir, package_dirs, environment, self._lock)
        with self._lock:
            self._functions[config.name] = function

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

    def _start_worker(self, function: _Function) -> Worker:
        config = function.config
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = self._logs.setdefault(config.name, (self.log_dir / f"{config.name}.log").open("ab"))
        return Worker.launch(
            self.python, config, function.package_dirs, function.opt_dir, function.environment, log
        )

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
        fingerprints = {
            f.config.name: fingerprint(
                f.config, f.environment, f.package_dirs, self.python, self.extra_environment
            )
            for f in functions
        }
        passed = passed_checks(fingerprints)
        checks = [
            (function.config.name, self._start_worker(function))
            for function in functions
            if passed.get(function.config.name) != fingerprints[function.config.name]
        ]
        with self._lock:
            self._checking.update(worker for _, worker in checks)
        return InitCheck(checks, passed, fingerprints, self._end_init_check)

    def _end_init_check(self, worker: Worker) -> None:
        with self._lock:
            self._checking.discard(worker)
        worker.stop()

    def _take_worker(self, function: _Function) -> Worker:
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

    def _lost_worker(self, worker: Worker, request_id: str, config: FunctionConfig) -> InvokeResult:
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


def _timed_out(request_id: str, config: FunctionConfig) -> InvokeResult:
    message = f"RequestId: {request_id} Error: Task timed out after {config.timeout_seconds:.2f} seconds"
    return InvokeResult(
        {"errorType": "Sandbox.Timedout", "errorMessage": message, "requestId": request_id},
        "Unhandled",
        request_id,
    )
