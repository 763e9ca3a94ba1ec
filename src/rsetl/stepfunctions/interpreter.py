"""The Amazon States Language interpreter: runs one execution of a state machine.

Follows the Amazon States Language specification and the Step Functions developer guide
("Processing input and output", "Handling errors", the state type pages). All time goes
through a :class:`~rsetl.clock.Clock`: on a :class:`~rsetl.clock.VirtualClock` Wait states
and retry intervals cost nothing, and Parallel branches and Map iterations run one after the
other so that virtual time stays deterministic.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rsetl.clock import Clock, VirtualClock
from rsetl.stepfunctions import errors, query
from rsetl.stepfunctions.choice import evaluate_rule, parse_timestamp
from rsetl.stepfunctions.exceptions import ExecutionStopped, ExecutionTimedOut, StatesError
from rsetl.stepfunctions.history import HISTORY_EVENT_LIMIT, History
from rsetl.stepfunctions.integrations import IntegrationRegistry, TaskRequest
from rsetl.stepfunctions.intrinsics import evaluate_intrinsic
from rsetl.stepfunctions.paths import (
    PathNotFound,
    apply_result_path,
    missing_field_path,
    read_path,
    render_payload_template,
)
from rsetl.stepfunctions.tokens import TaskTokens

PAYLOAD_LIMIT_BYTES = 256 * 1024
# AWS's wait limit: a delay of 2^31 seconds or more is "Wait state delay is too long."
MAX_WAIT_SECONDS = 2**31 - 1
_LOCATED_PREFIX = "An error occurred while executing the state"
_LOCATED_ERRORS = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})
INLINE_MAP_MAX_CONCURRENCY = 40
JSONATA = "JSONata"
JSONPATH = "JSONPath"


def timestamp_text(moment: datetime) -> str:
    """ISO 8601 with milliseconds and `Z`, as the context object shows times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dumps(value: Any) -> str:
    """JSON text of a state's data, as history events carry it."""
    return json.dumps(value, separators=(",", ":"))


def _number(value: Any, *, integer: bool) -> int | float | None:
    """`value` as an integer (or, unless `integer`, any number), also from a string; None if it is not."""
    if isinstance(value, str):
        try:
            value = json.loads(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        return None
    return value


def _runtime_error(cause: str) -> StatesError:
    return StatesError(errors.RUNTIME, cause)


def _shown(value: Any) -> str:
    """A value quoted in a cause: a string as itself, anything else as compact JSON."""
    return value if isinstance(value, str) else dumps(value)


@dataclass
class Execution:
    """One execution: its identity, definition, status and history."""

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    definition: dict[str, Any]
    input: Any
    history: History
    role_arn: str = ""
    status: str = "RUNNING"
    start_date: datetime | None = None
    stop_date: datetime | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    stop_error: str = ""
    stop_cause: str = ""


class _HeartbeatTimedOut(StatesError):
    """A task missed its heartbeat. AWS reports States.Timeout with no cause; Retry and Catch match
    it as States.HeartbeatTimeout too ("Handling errors in Step Functions workflows")."""

    def __init__(self) -> None:
        super().__init__(errors.TIMEOUT)


class _BranchCancelled(Exception):
    """A sibling branch failed; this branch stops at its next state boundary."""


@dataclass
class _Frame:
    """Where a state runs: its branch's variables, Map item and cancellation flag."""

    variables: dict[str, Any]
    map_item: dict[str, Any] | None = None
    cancel: threading.Event | None = None


class Interpreter:
    """Runs executions; configured once with the clock and the service integrations."""

    def __init__(
        self,
        clock: Clock,
        integrations: IntegrationRegistry,
        tokens: TaskTokens | None = None,
        *,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        concurrent_branches: bool | None = None,
        history_limit: int = HISTORY_EVENT_LIMIT,
        on_end: Callable[[Execution], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_end = on_end
        """Hears each execution's end (its final status set), before anyone waiting on it."""
        self.integrations = integrations
        self.tokens = tokens or TaskTokens()
        self.region = region
        self.account_id = account_id
        self.concurrent_branches = (
            not isinstance(clock, VirtualClock) if concurrent_branches is None else concurrent_branches
        )
        self.history_limit = history_limit

    def new_history(self) -> History:
        return History(self.clock, self.history_limit)

    def run(self, execution: Execution) -> None:
        """Run `execution` to its end in the calling thread, recording its history."""
        _Run(self, execution).run()


class _Run:
    def __init__(self, interpreter: Interpreter, execution: Execution) -> None:
        self.interpreter = interpreter
        self.clock = interpreter.clock
        self.execution = execution
        self.history = execution.history
        self.deadline: float | None = None

    # -- execution lifecycle -------------------------------------------------------------

    def run(self) -> None:
        execution = self.execution
        execution.start_date = execution.start_date or self.clock.now()
        definition = execution.definition
        try:
            self.history.add(
                "ExecutionStarted",
                {
                    "input": dumps(execution.input),
                    "inputDetails": {"truncated": False},
                    "roleArn": execution.role_arn,
                },
            )
            timeout = definition.get("TimeoutSeconds")
            if timeout is not None:
                self.deadline = self.clock.monotonic() + float(timeout)
            output = self.run_branch(definition, execution.input, _Frame(variables={}), JSONPATH)
            self._check_size(output, "the execution")
        except StatesError as exc:
            self._finish("FAILED", "ExecutionFailed", error=exc.error, cause=exc.cause)
        except ExecutionTimedOut:
            self._finish(
                "TIMED_OUT",
                "ExecutionTimedOut",
                error=errors.TIMEOUT,
                cause="The execution timed out after the state machine's TimeoutSeconds.",
            )
        except ExecutionStopped:
            self._finish(
                "ABORTED", "ExecutionAborted", error=execution.stop_error, cause=execution.stop_cause
            )
        except Exception as exc:
            # A defect here must end the execution, never leave it RUNNING with no one to finish it.
            self._finish(
                "FAILED",
                "ExecutionFailed",
                error=errors.RUNTIME,
                cause=f"Internal error in the local interpreter: {type(exc).__name__}: {exc}",
            )
        else:
            execution.output = output
            self._finish("SUCCEEDED", "ExecutionSucceeded", output=output)

    def _finish(
        self, status: str, event: str, *, output: Any = None, error: str = "", cause: str = ""
    ) -> None:
        execution = self.execution
        if status == "SUCCEEDED":
            details: dict[str, Any] = {"output": dumps(output), "outputDetails": {"truncated": False}}
        else:
            # A Fail state without Error or Cause leaves them out, as AWS does (null, not "").
            details = {key: value for key, value in (("error", error), ("cause", cause)) if value}
            execution.error, execution.cause = error or None, cause or None
        self.history.add(event, details, closing=True)
        execution.status = status
        execution.stop_date = self.clock.now()
        if self.interpreter.on_end is not None:
            self.interpreter.on_end(execution)
        execution.done.set()

    def check_alive(self, frame: _Frame | None = None) -> None:
        if self.execution.stop_requested.is_set():
            raise ExecutionStopped()
        if self.deadline is not None and self.clock.monotonic() >= self.deadline:
            raise ExecutionTimedOut()
        if frame is not None and frame.cancel is not None and frame.cancel.is_set():
            raise _BranchCancelled()

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass, bounded by the execution's timeout; StopExecution interrupts."""
        self.check_alive()
        if seconds <= 0:
            return
        cut_short = self.deadline is not None and self.clock.monotonic() + seconds > self.deadline
        if cut_short and self.deadline is not None:
            seconds = max(self.deadline - self.clock.monotonic(), 0.0)
        if isinstance(self.clock, VirtualClock):
            self.clock.sleep(seconds)
        elif self.clock.wait(self.execution.stop_requested, seconds):
            raise ExecutionStopped()
        self.check_alive()

    def _check_size(self, value: Any, what: str) -> None:
        if len(dumps(value).encode()) > PAYLOAD_LIMIT_BYTES:
            raise StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The state/task '{what}' returned a result with a size exceeding the maximum number of "
                f"bytes service limit.",
            )

    # -- branches -------------------------------------------------------------------------

    def run_branch(self, definition: Mapping[str, Any], data: Any, frame: _Frame, language: str) -> Any:
        """Run states from StartAt until one ends the branch; return the branch's output."""
        states = definition["States"]
        language = definition.get("QueryLanguage", language)
        name = definition["StartAt"]
        while True:
            self.check_alive(frame)
            if name not in states:
                raise StatesError(errors.RUNTIME, f"The state machine has no state named '{name}'")
            data, following = self.run_state(name, states[name], data, frame, language)
            if following is None:
                return data
            name = following

    def context(
        self,
        state_name: str,
        entered: datetime,
        retry_count: int | None,
        frame: _Frame,
        token: str | None = None,
    ) -> dict[str, Any]:
        """The context object (`$$` / `$states.context`), holding only what AWS puts there.

        "Accessing execution data from the Context object in Step Functions"
        (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html):
        `State.RetryCount` only in a Task state, `Task` only while a task token exists, `Map` only
        inside a Map iteration.
        """
        execution = self.execution
        assert execution.start_date is not None
        state: dict[str, Any] = {"Name": state_name, "EnteredTime": timestamp_text(entered)}
        if retry_count is not None:
            state["RetryCount"] = retry_count
        context: dict[str, Any] = {
            "Execution": {
                "Id": execution.arn,
                "Input": execution.input,
                "StartTime": timestamp_text(execution.start_date),
                "Name": execution.name,
                "RoleArn": execution.role_arn,
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": execution.state_machine_arn, "Name": execution.state_machine_name},
            "State": state,
        }
        if token:
            context["Task"] = {"Token": token}
        if frame.map_item is not None:
            context["Map"] = {"Item": frame.map_item}
        return context

    # -- one state ------------------------------------------------------------------------

    def run_state(
        self, name: str, state: Mapping[str, Any], data: Any, frame: _Frame, default_language: str
    ) -> tuple[Any, str | None]:
        kind = state.get("Type")
        language = state.get("QueryLanguage", default_language)
        entered_at = self.clock.now()
        entered_id = self.history.add(
            f"{kind}StateEntered", {"name": name, "input": dumps(data), "inputDetails": {"truncated": False}}
        )
        step = _State(self, name, state, data, frame, language, entered_at, entered_id)
        handler: Callable[[], tuple[Any, str | None]] = {
            "Pass": step.run_pass,
            "Task": step.run_task,
            "Choice": step.run_choice,
            "Wait": step.run_wait,
            "Succeed": step.run_succeed,
            "Fail": step.run_fail,
            "Parallel": step.run_parallel,
            "Map": step.run_map,
        }.get(str(kind), step.unknown_type)
        try:
            output, following = handler()
        except StatesError as exc:
            step.record_failure(exc)
            raise
        self._check_size(output, name)
        exited: dict[str, Any] = {
            "name": name,
            "output": dumps(output),
            "outputDetails": {"truncated": False},
        }
        if step.assigned:
            exited["assignedVariables"] = {key: dumps(value) for key, value in step.assigned.items()}
            exited["assignedVariablesDetails"] = {"truncated": False}
        self.history.add(f"{kind}StateExited", exited)
        return output, following


class _State:
    """The processing of one state entry (with its retries)."""

    def __init__(
        self,
        run: _Run,
        name: str,
        state: Mapping[str, Any],
        data: Any,
        frame: _Frame,
        language: str,
        entered_at: datetime,
        entered_id: int,
    ) -> None:
        self.run = run
        self.name = name
        self.state = state
        self.raw_input = data
        self.frame = frame
        self.jsonata = language == JSONATA
        self.language = language
        self.entered_at = entered_at
        self.entered_id = entered_id
        self.retry_count = 0
        self.token: str | None = None
        self.assigned: dict[str, Any] = {}

    # -- shared helpers -------------------------------------------------------------------

    @property
    def variables(self) -> dict[str, Any]:
        return self.frame.variables

    def record_failure(self, exc: StatesError) -> StatesError:
        """Name this state in the cause of the errors it raised itself, as AWS does, and record a failed
        JSONata evaluation as an EvaluationFailed event (once, in the state that raised it).

        The text is AWS's: "An error occurred while executing the state 'X' (entered at the event
        id #N). ..." ("Handling errors in Step Functions workflows",
        https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
        """
        if exc.error in _LOCATED_ERRORS and not exc.cause.startswith(_LOCATED_PREFIX):
            exc.cause = (
                f"{_LOCATED_PREFIX} '{self.name}' (entered at the event id #{self.entered_id}). {exc.cause}"
            )
        if isinstance(exc, query.QueryEvaluationError) and not exc.recorded:
            details = {"error": exc.error, "cause": exc.cause, "state": self.name}
            if exc.location is not None:
                details["location"] = exc.location
            self.run.history.add("EvaluationFailed", details)
            exc.recorded = True
        return exc

    def context(self) -> dict[str, Any]:
        retry_count = self.retry_count if self.state.get("Type") == "Task" else None
        return self.run.context(self.name, self.entered_at, retry_count, self.frame, self.token)

    def bindings(self, **states: Any) -> dict[str, Any]:
        return {**self.variables, "states": {"input": self.raw_input, "context": self.context(), **states}}

    @staticmethod
    def runtime_path_error(path: str, missing: PathNotFound) -> StatesError:
        """A reference path (InputPath, OutputPath, ItemsPath, TimeoutSecondsPath...) selecting nothing."""
        return StatesError(errors.RUNTIME, f"Invalid path '{path}' : {missing.reason}")

    def path(self, field_name: str, data: Any) -> Any:
        """InputPath / OutputPath: `$` by default, null yields {}."""
        if field_name not in self.state:
            return data
        path = self.state[field_name]
        if path is None:
            return {}
        try:
            return read_path(path, data, self.context(), self.variables)
        except PathNotFound as exc:
            raise self.runtime_path_error(path, exc) from None

    def template(self, field_name: str, data: Any) -> Any:
        return render_payload_template(
            self.state[field_name], data, self.context(), self.variables, evaluate_intrinsic, field_name
        )

    def value_or_path(
        self,
        field_name: str,
        data: Any,
        default: Any = None,
        *,
        missing: Callable[[str, PathNotFound], StatesError] | None = None,
    ) -> Any:
        """A field given directly, as `<field>Path`, or (JSONata) as an expression.

        `missing` builds the error for a `<field>Path` that selects nothing (by default AWS's
        "Invalid path" States.Runtime).
        """
        if field_name in self.state:
            value = self.state[field_name]
            if self.jsonata and query.is_expression(value):
                return query.evaluate(value, self.bindings(), field_name)
            return value
        path_field = f"{field_name}Path"
        if path_field in self.state:
            path = self.state[path_field]
            if isinstance(path, str) and path.startswith("States."):
                return evaluate_intrinsic(path, data, self.context(), self.variables)
            try:
                return read_path(path, data, self.context(), self.variables)
            except PathNotFound as exc:
                raise (missing or self.runtime_path_error)(path, exc) from None
        return default

    def jsonata_output(self, default: Any, **states: Any) -> Any:
        if "Output" not in self.state:
            return default
        return query.render(self.state["Output"], self.bindings(**states), "Output")

    def assign(self, spec: Any, data: Any, **states: Any) -> None:
        """Evaluate Assign with the variables as they were when the state began, then commit."""
        if not spec:
            return
        if self.jsonata:
            values = query.render(spec, self.bindings(**states), "Assign")
        else:
            values = render_payload_template(
                spec, data, self.context(), self.variables, evaluate_intrinsic, "Assign"
            )
        if not isinstance(values, dict):
            raise StatesError(errors.RUNTIME, "Assign must be a JSON object")
        self.assigned.update(values)

    def commit_assignments(self) -> None:
        self.variables.update(self.assigned)

    def following(self, state: Mapping[str, Any] | None = None) -> str | None:
        state = state or self.state
        return None if state.get("End") else state.get("Next")

    def finish_jsonpath(self, result: Any, effective: Any) -> Any:
        """ResultSelector, ResultPath and OutputPath applied to a task-like result."""
        if "ResultSelector" in self.state:
            result = render_payload_template(
                self.state["ResultSelector"],
                result,
                self.context(),
                self.variables,
                evaluate_intrinsic,
                "ResultSelector",
            )
        self.assign(self.state.get("Assign"), result)
        combined = apply_result_path(
            self.raw_input, result, self.state.get("ResultPath"), absent="ResultPath" not in self.state
        )
        return self.path("OutputPath", combined)

    def unknown_type(self) -> tuple[Any, str | None]:
        raise StatesError(
            errors.RUNTIME, f"State '{self.name}' has an unknown Type {self.state.get('Type')!r}"
        )

    # -- Pass, Succeed, Fail, Wait, Choice -----------------------------------------------

    def run_pass(self) -> tuple[Any, str | None]:
        if self.jsonata:
            output = self.jsonata_output(self.raw_input)
            self.assign(self.state.get("Assign"), None)
            self.commit_assignments()
            return output, self.following()
        effective = self.path("InputPath", self.raw_input)
        result = self.template("Parameters", effective) if "Parameters" in self.state else effective
        if "Result" in self.state:
            result = copy.deepcopy(self.state["Result"])
        self.assign(self.state.get("Assign"), result)
        combined = apply_result_path(
            self.raw_input, result, self.state.get("ResultPath"), absent="ResultPath" not in self.state
        )
        output = self.path("OutputPath", combined)
        self.commit_assignments()
        return output, self.following()

    def run_succeed(self) -> tuple[Any, str | None]:
        if self.jsonata:
            return self.jsonata_output(self.raw_input), None
        return self.path("OutputPath", self.path("InputPath", self.raw_input)), None

    def run_fail(self) -> tuple[Any, str | None]:
        data = self.raw_input
        error = self.value_or_path(
            "Error", data, default="", missing=lambda path, _: missing_field_path(path, "ErrorPath", data)
        )
        cause = self.value_or_path(
            "Cause", data, default="", missing=lambda path, _: missing_field_path(path, "CausePath", data)
        )
        raise StatesError(str(error) if error is not None else "", str(cause) if cause is not None else "")

    def run_wait(self) -> tuple[Any, str | None]:
        effective = self.raw_input if self.jsonata else self.path("InputPath", self.raw_input)
        if "Seconds" in self.state or "SecondsPath" in self.state:
            self.run.sleep(self.wait_seconds(effective))
        elif "Timestamp" in self.state or "TimestampPath" in self.state:
            delay = (self.wait_timestamp(effective) - self.run.clock.now()).total_seconds()
            if delay > MAX_WAIT_SECONDS:
                raise StatesError(errors.RUNTIME, "Wait state delay is too long.")
            self.run.sleep(delay)
        else:
            raise StatesError(
                errors.RUNTIME, "Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath"
            )
        if self.jsonata:
            output = self.jsonata_output(self.raw_input)
            self.assign(self.state.get("Assign"), None)
        else:
            self.assign(self.state.get("Assign"), effective)
            output = self.path("OutputPath", effective)
        self.commit_assignments()
        return output, self.following()

    def wait_seconds(self, data: Any) -> int:
        """Seconds or SecondsPath as AWS checks them: a non-negative integer ("Wait workflow state",
        https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html)."""
        path = self.state.get("SecondsPath")
        seconds = self.value_or_path(
            "Seconds",
            data,
            missing=lambda shown, _: StatesError(
                errors.RUNTIME, f"The SecondsPath parameter does not reference an input value: {shown}"
            ),
        )
        whole = isinstance(seconds, int) and not isinstance(seconds, bool)
        if path is not None:
            if not whole:
                raise StatesError(
                    errors.RUNTIME,
                    "The SecondsPath parameter cannot be parsed as a long value: "
                    f"{path} == {_shown(seconds)}",
                )
            if seconds < 0:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter references a negative value: {path} == {_shown(seconds)}",
                )
        elif not whole or seconds < 0:
            raise self.field_error(
                "Seconds", f"The Seconds field must be a non-negative integer, got: {_shown(seconds)}"
            )
        return int(seconds)

    def wait_timestamp(self, data: Any) -> datetime:
        """Timestamp or TimestampPath: RFC 3339 with an uppercase `T` and `Z`, fractional seconds of
        any length ("Wait workflow state")."""
        path = self.state.get("TimestampPath")
        stamp = self.value_or_path(
            "Timestamp",
            data,
            missing=lambda shown, _: StatesError(
                errors.RUNTIME, f"The TimestampPath parameter does not reference an input value: {shown}"
            ),
        )
        moment = parse_timestamp(stamp) if isinstance(stamp, str) and stamp.endswith("Z") else None
        if moment is not None:
            return moment
        if path is not None:
            raise StatesError(
                errors.RUNTIME,
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {path} == {_shown(stamp)}",
            )
        raise self.field_error(
            "Timestamp",
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: "
            f"{_shown(stamp)}",
        )

    def field_error(self, field_name: str, cause: str) -> StatesError:
        """A field's value AWS refuses at run time: States.QueryEvaluationError in a JSONata state."""
        if self.jsonata:
            return query.QueryEvaluationError(cause, field_name)
        return StatesError(errors.RUNTIME, cause)

    def run_choice(self) -> tuple[Any, str | None]:
        effective = self.raw_input if self.jsonata else self.path("InputPath", self.raw_input)
        chosen: Mapping[str, Any] | None = None
        for rule in self.state.get("Choices", []):
            if self.jsonata:
                # A Condition may also be a JSON boolean written as it is ("Choice workflow state").
                condition = rule.get("Condition", False)
                matched = query.evaluate(condition, self.bindings(), "Condition")
                if not isinstance(matched, bool):
                    raise query.QueryEvaluationError(
                        f"The JSONata expression '{query.expression_text(condition)}' specified for the "
                        f"field 'Condition' returned an unexpected result type. Expected 'boolean', but was "
                        f"'{query.json_type(matched)}' for value: {dumps(matched)}",
                        "Condition",
                    )
            else:
                matched = evaluate_rule(rule, effective, self.context(), self.variables)
            if matched:
                chosen = rule
                break
        if chosen is None:
            if "Default" not in self.state:
                raise StatesError(
                    errors.NO_CHOICE_MATCHED, f"No Choice rule matched and no Default in state '{self.name}'"
                )
            next_state = self.state["Default"]
            source: Mapping[str, Any] = self.state
        else:
            next_state = chosen["Next"]
            source = chosen
        if self.jsonata:
            output = (
                query.render(source["Output"], self.bindings(), "Output")
                if "Output" in source
                else (self.jsonata_output(self.raw_input))
            )
            self.assign(source.get("Assign", self.state.get("Assign")), None)
        else:
            self.assign(source.get("Assign", self.state.get("Assign")), effective)
            output = self.path("OutputPath", effective)
        self.commit_assignments()
        return output, next_state

    # -- error handling shared by Task, Parallel, Map --------------------------------------

    def with_error_handling(self, attempt: Callable[[], Any]) -> tuple[Any, str | None]:
        retriers = list(self.state.get("Retry", []))
        attempts = [0] * len(retriers)
        while True:
            try:
                return attempt(), self.following()
            except StatesError as exc:
                failure = self.record_failure(exc)
            heartbeat = isinstance(failure, _HeartbeatTimedOut)
            retrier_index = next(
                (
                    i
                    for i, r in enumerate(retriers)
                    if errors.error_matches(failure.error, r["ErrorEquals"], heartbeat=heartbeat)
                ),
                None,
            )
            if retrier_index is not None:
                retrier = retriers[retrier_index]
                if attempts[retrier_index] < retrier.get("MaxAttempts", 3):
                    self.run.sleep(self.retry_delay(retrier, attempts[retrier_index]))
                    attempts[retrier_index] += 1
                    self.retry_count += 1
                    self.assigned = {}
                    continue
            for catcher in self.state.get("Catch", []):
                if errors.error_matches(failure.error, catcher["ErrorEquals"], heartbeat=heartbeat):
                    return self.caught(catcher, failure), catcher["Next"]
            raise failure

    @staticmethod
    def retry_delay(retrier: Mapping[str, Any], attempt: int) -> float:
        """IntervalSeconds x BackoffRate^attempt, capped by MaxDelaySeconds, FULL jitter if asked."""
        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** attempt
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        if retrier.get("JitterStrategy") == "FULL":
            delay = random.uniform(0, delay)
        return delay

    def caught(self, catcher: Mapping[str, Any], failure: StatesError) -> Any:
        error_output = failure.to_output()
        self.assigned = {}
        if self.jsonata:
            output = (
                query.render(catcher["Output"], self.bindings(errorOutput=error_output), "Output")
                if "Output" in catcher
                else error_output
            )
            self.assign(catcher.get("Assign"), None, errorOutput=error_output)
        else:
            self.assign(catcher.get("Assign"), error_output)
            output = apply_result_path(
                self.raw_input, error_output, catcher.get("ResultPath"), absent="ResultPath" not in catcher
            )
        self.commit_assignments()
        return output

    # -- Task ------------------------------------------------------------------------------

    def run_task(self) -> tuple[Any, str | None]:
        return self.with_error_handling(self.task_attempt)

    def task_attempt(self) -> Any:
        resource = self.state.get("Resource")
        if not isinstance(resource, str):
            raise StatesError(errors.RUNTIME, f"Task state '{self.name}' has no Resource")
        waiter = None
        if resource.endswith(".waitForTaskToken"):
            waiter = self.run.interpreter.tokens.issue(self.run.execution.arn)
            self.token = waiter.token
        try:
            effective, arguments = self.effective_input_and_arguments()
            self.run._check_size(arguments, self.name)
            result = self.invoke(resource, arguments, waiter)
            # The quota applies to the task's result itself, before ResultSelector can shrink it.
            self.run._check_size(result, self.name)
        finally:
            if waiter is not None:
                self.run.interpreter.tokens.release(waiter.token)
            self.token = None
        self.assigned = {}
        if self.jsonata:
            output = self.jsonata_output(result, result=result)
            self.assign(self.state.get("Assign"), None, result=result)
        else:
            output = self.finish_jsonpath(result, effective)
        self.commit_assignments()
        return output

    def timeouts(self) -> tuple[float | None, float | None]:
        timeout = self.value_or_path("TimeoutSeconds", self.raw_input)
        heartbeat = self.value_or_path("HeartbeatSeconds", self.raw_input)
        for label, value in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise StatesError(errors.RUNTIME, f"{label} must be a positive integer, got {value!r}")
        return (
            float(timeout) if timeout is not None else None,
            float(heartbeat) if heartbeat is not None else None,
        )

    def invoke(self, resource: str, arguments: Any, waiter: Any) -> Any:
        run = self.run
        interpreter = run.interpreter
        integration, request = interpreter.integrations.request(
            resource,
            parameters=arguments,
            state_name=self.name,
            execution_arn=run.execution.arn,
            region=interpreter.region,
            account_id=interpreter.account_id,
            task_token=waiter.token if waiter is not None else None,
        )
        timeout, heartbeat = self.timeouts()
        legacy = request.is_lambda_arn
        prefix = "LambdaFunction" if legacy else "Task"
        ident = {} if legacy else {"resourceType": request.resource_type, "resource": request.resource_name}
        if legacy:
            scheduled: dict[str, Any] = {"resource": resource, "input": dumps(arguments)}
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
            result = self.call_with_timeout(integration, request, timeout)
            if waiter is not None:
                run.history.add(
                    "TaskSubmitted", {**ident, "output": dumps(result), "outputDetails": {"truncated": False}}
                )
                remaining = None if timeout is None else timeout - (run.clock.monotonic() - started)
                result = self.wait_for_token(waiter, remaining, heartbeat)
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

    def call_with_timeout(self, integration: Any, request: TaskRequest, timeout: float | None) -> Any:
        if timeout is None:
            return self.call_integration(integration, request)
        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def call() -> None:
            try:
                outcome["result"] = self.call_integration(integration, request)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                finished.set()

        threading.Thread(target=call, name=f"task-{self.name}", daemon=True).start()
        if not self.run.clock.wait(finished, timeout):
            # AWS gives a timed-out task no cause.
            raise StatesError(errors.TIMEOUT)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    @staticmethod
    def call_integration(integration: Any, request: TaskRequest) -> Any:
        try:
            return integration.call(request)
        except (StatesError, ExecutionStopped, ExecutionTimedOut):
            raise
        except Exception as exc:
            # A local service that is down or misbehaves fails the task, as a service error would.
            raise StatesError(errors.TASK_FAILED, f"{type(exc).__name__}: {exc}") from exc

    def wait_for_token(self, waiter: Any, timeout: float | None, heartbeat: float | None) -> Any:
        run = self.run
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
                    raise _HeartbeatTimedOut()
                if kind == "timeout":
                    raise StatesError(errors.TIMEOUT)
                raise ExecutionTimedOut()
            beats = waiter.heartbeats
            if clock.wait(waiter.changed, window):
                waiter.changed.clear()
                if waiter.done:
                    if waiter.error is not None:
                        raise waiter.error
                    return waiter.output
                if waiter.heartbeats != beats:
                    last_beat = clock.monotonic()

    # -- Parallel and Map ------------------------------------------------------------------

    def run_all(self, jobs: list[Callable[[threading.Event], Any]], limit: int) -> list[Any]:
        """Run branch jobs, concurrently unless the clock is virtual; first failure wins."""
        cancel = threading.Event()
        if not self.run.interpreter.concurrent_branches or len(jobs) <= 1:
            return [job(cancel) for job in jobs]
        results: list[Any] = [None] * len(jobs)
        failures: list[BaseException] = []

        def guarded(index: int) -> None:
            try:
                results[index] = jobs[index](cancel)
            except _BranchCancelled:
                pass
            except BaseException as exc:
                failures.append(exc)
                cancel.set()

        with ThreadPoolExecutor(max_workers=max(1, min(limit, len(jobs)))) as pool:
            list(pool.map(guarded, range(len(jobs))))
        if failures:
            raise failures[0]
        return results

    def child_frame(self, cancel: threading.Event, map_item: dict[str, Any] | None = None) -> _Frame:
        # Inner scopes read outer variables; what they assign stays inside.
        return _Frame(variables=copy.deepcopy(self.variables), map_item=map_item, cancel=cancel)

    def effective_input_and_arguments(self) -> tuple[Any, Any]:
        """The state's effective input and what it passes on: `Arguments` (JSONata), or
        `InputPath` then `Parameters` (JSONPath)."""
        if self.jsonata:
            if "Arguments" in self.state:
                return self.raw_input, query.render(self.state["Arguments"], self.bindings(), "Arguments")
            return self.raw_input, self.raw_input
        effective = self.path("InputPath", self.raw_input)
        if "Parameters" in self.state:
            return effective, self.template("Parameters", effective)
        return effective, effective

    def run_parallel(self) -> tuple[Any, str | None]:
        return self.with_error_handling(self.parallel_attempt)

    def parallel_attempt(self) -> Any:
        run = self.run
        effective, branch_input = self.effective_input_and_arguments()
        run.history.add("ParallelStateStarted")
        branches = self.state.get("Branches", [])

        def job(branch: Mapping[str, Any]) -> Callable[[threading.Event], Any]:
            return lambda cancel: run.run_branch(
                branch, copy.deepcopy(branch_input), self.child_frame(cancel), self.language
            )

        try:
            result = self.run_all([job(branch) for branch in branches], len(branches))
        except StatesError:
            run.history.add("ParallelStateFailed")
            raise
        run.history.add("ParallelStateSucceeded")
        return self.finish_group(result, effective)

    def finish_group(self, result: Any, effective: Any) -> Any:
        self.assigned = {}
        if self.jsonata:
            output = self.jsonata_output(result, result=result)
            self.assign(self.state.get("Assign"), None, result=result)
        else:
            output = self.finish_jsonpath(result, effective)
        self.commit_assignments()
        return output

    def run_map(self) -> tuple[Any, str | None]:
        return self.with_error_handling(self.map_attempt)

    def map_items(self, effective: Any) -> list[Any]:
        """The items to iterate over; anything but an array fails as AWS words it ("Map state")."""
        if self.jsonata and query.is_expression(self.state.get("Items")):
            items = query.evaluate(self.state["Items"], self.bindings(), "Items")
            if not isinstance(items, list):
                raise query.QueryEvaluationError(
                    f"The JSONata expression '{query.expression_text(self.state['Items'])}' specified for "
                    f"the field 'Items' returned an unexpected result type. Expected 'array', but was "
                    f"'{query.json_type(items)}' for value: {dumps(items)}",
                    "Items",
                )
            return items
        if self.jsonata and isinstance(self.state.get("Items"), list):
            return query.render(self.state["Items"], self.bindings(), "Items")
        if not self.jsonata and "ItemsPath" in self.state:
            try:
                items = read_path(self.state["ItemsPath"], effective, self.context(), self.variables)
            except PathNotFound as exc:
                raise self.runtime_path_error(self.state["ItemsPath"], exc) from None
        else:
            items = self.state.get("Items", effective)
        if not isinstance(items, list):
            error = query.QueryEvaluationError if self.jsonata else _runtime_error
            raise error(f"Map state input must be an array but was: {dumps(items)}")
        return items

    def item_input(self, selector_field: str | None, effective: Any, item: dict[str, Any]) -> Any:
        if selector_field is None:
            return copy.deepcopy(item["Value"])
        frame = self.frame
        self.frame = _Frame(variables=frame.variables, map_item=item, cancel=frame.cancel)
        try:
            if self.jsonata:
                return query.render(self.state[selector_field], self.bindings(), selector_field)
            return self.template(selector_field, effective)
        finally:
            self.frame = frame

    def tolerance(self, total: int, effective: Any) -> int | None:
        processor = self.state.get("ItemProcessor", {})
        distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        count = self.map_number("ToleratedFailureCount", effective, integer=True)
        percentage = self.map_number("ToleratedFailurePercentage", effective, integer=False)
        if count is None and percentage is None:
            return 0 if distributed else None
        limits = []
        if count is not None:
            if count < 0:
                raise self.field_error("ToleratedFailureCount", "ToleratedFailureCount cannot be negative.")
            limits.append(int(count))
        if percentage is not None:
            if not 0 <= percentage <= 100:
                raise self.field_error(
                    "ToleratedFailurePercentage", "ToleratedFailurePercentage must be between 0 and 100."
                )
            limits.append(int(total * float(percentage) / 100))
        return min(limits)

    def map_number(self, field_name: str, effective: Any, *, integer: bool) -> int | float | None:
        """A Map setting given directly, by `<field>Path` or as an expression, checked as AWS checks it:
        'The ToleratedFailureCountPath field refers to value "x" which is not a valid integer: $.x'.

        AWS also reads a string holding the number ("1"); a fraction is not an integer.
        """
        value = self.value_or_path(field_name, effective)
        if value is None and f"{field_name}Path" not in self.state:
            return None
        number = _number(value, integer=integer)
        if number is not None:
            return number
        kind = "integer" if integer else "float"
        path_field = f"{field_name}Path"
        if path_field in self.state:
            raise StatesError(
                errors.RUNTIME,
                f'The {path_field} field refers to value "{_shown(value)}" which is not a valid {kind}: '
                f"{self.state[path_field]}",
            )
        raise self.field_error(
            field_name, f'The {field_name} field value "{_shown(value)}" is not a valid {kind}'
        )

    def map_attempt(self) -> Any:
        run = self.run
        effective = self.raw_input if self.jsonata else self.path("InputPath", self.raw_input)
        processor = self.state.get("ItemProcessor") or self.state.get("Iterator")
        if not isinstance(processor, dict):
            raise StatesError(errors.RUNTIME, f"Map state '{self.name}' has no ItemProcessor")
        selector = next((f for f in ("ItemSelector", "Parameters") if f in self.state), None)
        try:
            items = self.map_items(effective)
            tolerated = self.tolerance(len(items), effective)
            max_concurrency = self.map_number("MaxConcurrency", effective, integer=True) or 0
            if max_concurrency < 0:
                raise self.field_error("MaxConcurrency", "MaxConcurrency cannot be negative.")
        except StatesError as exc:
            # AWS records the failure, then MapStateFailed, before the execution fails.
            self.record_failure(exc)
            run.history.add("MapStateFailed")
            raise
        limit = min(int(max_concurrency) or INLINE_MAP_MAX_CONCURRENCY, INLINE_MAP_MAX_CONCURRENCY)
        run.history.add("MapStateStarted", {"length": len(items)})
        failed: list[StatesError] = []

        def job(index: int) -> Callable[[threading.Event], Any]:
            def iterate(cancel: threading.Event) -> Any:
                item = {"Index": index, "Value": items[index]}
                iteration = {"name": self.name, "index": index}
                run.history.add("MapIterationStarted", iteration)
                try:
                    value = run.run_branch(
                        processor,
                        self.item_input(selector, effective, item),
                        self.child_frame(cancel, map_item=item),
                        self.language,
                    )
                except StatesError as exc:
                    run.history.add("MapIterationFailed", iteration)
                    if tolerated is None:
                        raise
                    failed.append(exc)
                    if len(failed) > tolerated:
                        raise StatesError(
                            errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ) from None
                    return exc.to_output()
                run.history.add("MapIterationSucceeded", iteration)
                return value

            return iterate

        try:
            result = self.run_all([job(index) for index in range(len(items))], limit)
        except StatesError:
            run.history.add("MapStateFailed")
            raise
        run.history.add("MapStateSucceeded")
        return self.finish_group(result, effective)
