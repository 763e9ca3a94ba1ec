"""The Task state: one call to a service integration, with its timeouts and task token.

"Task workflow state" (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html) and
"Wait for a Callback with Task Token" in "Discover service integration patterns in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from rsetl.stepfunctions import errors
from rsetl.stepfunctions.entry import StateEntry
from rsetl.stepfunctions.exceptions import ExecutionStopped, ExecutionTimedOut, StatesError
from rsetl.stepfunctions.history import dumps
from rsetl.stepfunctions.integrations import ServiceIntegration, TaskRequest
from rsetl.stepfunctions.processing import FieldValue
from rsetl.stepfunctions.recovery import HeartbeatTimedOut
from rsetl.stepfunctions.states import RecoveringState
from rsetl.stepfunctions.tokens import TaskWaiter


@dataclass(frozen=True)
class TaskState(RecoveringState):
    """Calls its Resource with its Parameters or Arguments; the result goes through output processing."""

    type: ClassVar[str] = "Task"
    counts_retries: ClassVar[bool] = True
    has_result: ClassVar[bool] = True

    resource: str
    waits_for_token: bool
    timeout: FieldValue
    heartbeat: FieldValue

    def attempt(self, entry: StateEntry) -> Any:
        # The task token exists from input processing until the task ends, not in output processing.
        run = entry.run
        tokens = run.interpreter.tokens
        waiter = tokens.issue(run.execution.arn) if self.waits_for_token else None
        if waiter is not None:
            entry.token = waiter.token
        try:
            effective = self.processing.effective_input(entry)
            arguments = self.processing.arguments(entry, effective)
            run.check_size(arguments, self.name)
            result = self._invoke(entry, arguments, waiter)
            # The quota applies to the task's result itself, before ResultSelector can shrink it.
            run.check_size(result, self.name)
        finally:
            if waiter is not None:
                tokens.release(waiter.token)
            entry.token = None
        return self.finish(entry, result)

    def _timeouts(self, entry: StateEntry) -> tuple[float | None, float | None]:
        timeout = self.processing.field(entry, self.timeout, entry.raw_input)
        heartbeat = self.processing.field(entry, self.heartbeat, entry.raw_input)
        for label, value in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise StatesError(errors.RUNTIME, f"{label} must be a positive integer, got {value!r}")
        return (
            float(timeout) if timeout is not None else None,
            float(heartbeat) if heartbeat is not None else None,
        )

    def _invoke(self, entry: StateEntry, arguments: Any, waiter: TaskWaiter | None) -> Any:
        run = entry.run
        interpreter = run.interpreter
        integration, request = interpreter.integrations.request(
            self.resource,
            parameters=arguments,
            state_name=self.name,
            execution_arn=run.execution.arn,
            region=interpreter.region,
            account_id=interpreter.account_id,
            task_token=waiter.token if waiter is not None else None,
        )
        timeout, heartbeat = self._timeouts(entry)
        legacy = request.is_lambda_arn
        prefix = "LambdaFunction" if legacy else "Task"
        ident = {} if legacy else {"resourceType": request.resource_type, "resource": request.resource_name}
        if legacy:
            scheduled: dict[str, Any] = {"resource": self.resource, "input": dumps(arguments)}
        else:
            scheduled = {**ident, "region": interpreter.region, "parameters": dumps(arguments)}
        if timeout is not None:
            scheduled["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None and not legacy:
            scheduled["heartbeatInSeconds"] = int(heartbeat)
        run.history.add(f"{prefix}Scheduled", scheduled)
        run.history.add(f"{prefix}Started", ident or None)
        started = run.clock.monotonic()
        try:
            result = self._call_with_timeout(entry, integration, request, timeout)
            if waiter is not None:
                run.history.add(
                    "TaskSubmitted", {**ident, "output": dumps(result), "outputDetails": {"truncated": False}}
                )
                remaining = None if timeout is None else timeout - (run.clock.monotonic() - started)
                result = self._wait_for_token(entry, waiter, remaining, heartbeat)
        except StatesError as exc:
            event = f"{prefix}TimedOut" if exc.error == errors.TIMEOUT else f"{prefix}Failed"
            failed = (
                {**ident, "error": exc.error, "cause": exc.cause}
                if exc.cause
                else {**ident, "error": exc.error}
            )
            run.history.add(event, failed)
            raise
        run.history.add(
            f"{prefix}Succeeded", {**ident, "output": dumps(result), "outputDetails": {"truncated": False}}
        )
        return result

    def _call_with_timeout(
        self, entry: StateEntry, integration: ServiceIntegration, request: TaskRequest, timeout: float | None
    ) -> Any:
        if timeout is None:
            return _call(integration, request)
        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def call() -> None:
            try:
                outcome["result"] = _call(integration, request)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                finished.set()

        threading.Thread(target=call, name=f"task-{self.name}", daemon=True).start()
        if not entry.run.clock.wait(finished, timeout):
            # AWS gives a timed-out task no cause.
            raise StatesError(errors.TIMEOUT)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    @staticmethod
    def _wait_for_token(
        entry: StateEntry, waiter: TaskWaiter, timeout: float | None, heartbeat: float | None
    ) -> Any:
        run = entry.run
        clock = run.clock
        start = clock.monotonic()
        last_beat = start
        while True:
            run.check_alive()
            now = clock.monotonic()
            windows = []
            if timeout is not None:
                windows.append(("timeout", start + timeout - now))
            if heartbeat is not None:
                windows.append(("heartbeat", last_beat + heartbeat - now))
            if run.deadline is not None:
                windows.append(("execution", run.deadline - now))
            kind, window = min(windows, key=lambda item: item[1]) if windows else ("", 3600.0)
            if windows and window <= 0:
                if kind == "heartbeat":
                    raise HeartbeatTimedOut()
                if kind == "timeout":
                    raise StatesError(errors.TIMEOUT)
                raise ExecutionTimedOut()
            beats = waiter.heartbeats
            with clock.idle():
                changed = clock.wait(waiter.changed, window)
            if changed:
                waiter.changed.clear()
                if waiter.done:
                    if waiter.error is not None:
                        raise waiter.error
                    return waiter.output
                if waiter.heartbeats != beats:
                    last_beat = clock.monotonic()


def _call(integration: ServiceIntegration, request: TaskRequest) -> Any:
    try:
        return integration.call(request)
    except (StatesError, ExecutionStopped, ExecutionTimedOut):
        raise
    except Exception as exc:
        # A local service that is down or misbehaves fails the task, as a service error would.
        raise StatesError(errors.TASK_FAILED, f"{type(exc).__name__}: {exc}") from exc
