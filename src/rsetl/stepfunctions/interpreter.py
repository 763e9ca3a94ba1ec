"""The Amazon States Language interpreter: runs one execution of a state machine.

An execution runs the typed states its machine was built into at CreateStateMachine
(:mod:`.build`): each state runs itself (:mod:`.states`, :mod:`.task`, :mod:`.groups`) within
the :class:`Run` of its execution, which holds the execution's lifecycle, its history, its
timeout and the context object. All time goes through a :class:`~rsetl.clock.Clock`: on a
:class:`~rsetl.clock.VirtualClock` Wait states and retry intervals cost nothing, and Parallel
branches and Map iterations run one after the other so that virtual time stays deterministic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rsetl.clock import Clock, VirtualClock
from rsetl.stepfunctions import errors
from rsetl.stepfunctions.entry import BranchCancelled, Frame
from rsetl.stepfunctions.exceptions import ExecutionStopped, ExecutionTimedOut, StatesError
from rsetl.stepfunctions.history import HISTORY_EVENT_LIMIT, History, dumps
from rsetl.stepfunctions.integrations import IntegrationRegistry
from rsetl.stepfunctions.states import Program
from rsetl.stepfunctions.tokens import TaskTokens

PAYLOAD_LIMIT_BYTES = 256 * 1024


def timestamp_text(moment: datetime) -> str:
    """ISO 8601 with milliseconds and `Z`, as the context object shows times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Execution:
    """One execution: its identity, definition, status and history."""

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    program: Program | None
    """The machine's typed states; None for an execution loaded from the journal (never run again)."""
    definition: dict[str, Any]
    """The definition it runs, as JSON: journaled so that a restart runs what the execution started with."""
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
    given_input: str | None = None
    """The input's text as StartExecution was given it; None: none was given, or it came from a task."""

    @property
    def input_text(self) -> str:
        """The input as DescribeExecution and the history answer it: the text given, else its JSON."""
        return self.given_input if self.given_input is not None else json.dumps(self.input)


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
        with self.clock.participant():
            Run(self, execution).run()


class Run:
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
        program = execution.program
        assert program is not None, "an execution loaded from the journal is never run"
        try:
            self.history.add(
                "ExecutionStarted",
                {
                    "input": dumps(execution.input)
                    if execution.given_input is None
                    else execution.given_input,
                    "inputDetails": {"truncated": False},
                    "roleArn": execution.role_arn,
                },
            )
            if program.timeout_seconds is not None:
                self.deadline = self.clock.monotonic() + program.timeout_seconds
            output = self.run_branch(program, execution.input, Frame(variables={}))
            self.check_size(output, "the execution")
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

    def check_alive(self, frame: Frame | None = None) -> None:
        if self.execution.stop_requested.is_set():
            raise ExecutionStopped()
        if self.deadline is not None and self.clock.monotonic() >= self.deadline:
            raise ExecutionTimedOut()
        if frame is not None and frame.cancel is not None and frame.cancel.is_set():
            raise BranchCancelled()

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass, bounded by the execution's timeout; StopExecution interrupts."""
        self.check_alive()
        if seconds <= 0:
            return
        cut_short = self.deadline is not None and self.clock.monotonic() + seconds > self.deadline
        if cut_short and self.deadline is not None:
            seconds = max(self.deadline - self.clock.monotonic(), 0.0)
        if isinstance(self.clock, VirtualClock):
            self.clock.sleep_in_turn(seconds)
        elif self.clock.wait(self.execution.stop_requested, seconds):
            raise ExecutionStopped()
        self.check_alive()

    def check_size(self, value: Any, what: str) -> None:
        if len(dumps(value).encode()) > PAYLOAD_LIMIT_BYTES:
            raise StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The state/task '{what}' returned a result with a size exceeding the maximum number of "
                f"bytes service limit.",
            )

    # -- branches -------------------------------------------------------------------------

    def run_branch(self, program: Program, data: Any, frame: Frame) -> Any:
        """Run states from StartAt until one ends the branch; return the branch's output."""
        states = program.states
        name: str | None = program.start_at
        while name is not None:
            self.check_alive(frame)
            data, name = states[name].enter(self, data, frame)
        return data

    def context(
        self,
        state_name: str,
        entered: datetime,
        retry_count: int | None,
        frame: Frame,
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
