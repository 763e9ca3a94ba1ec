"""Executions across a stop of the local runtime: their journal rows, and the restart of those that
were RUNNING.

An interrupted execution ends ABORTED (error `rsetl.RuntimeStopped`, its cause naming the new
execution), as a StopExecution would end it; the new one is a new execution of the same state machine
with the same input, named after the old one. It runs the definition and role the interrupted one
started with, as on AWS an execution goes on with the definition it started with when its state
machine is updated ("Running executions will continue to use the previous definition and roleArn",
Step Functions API Reference, "UpdateStateMachine",
https://docs.aws.amazon.com/step-functions/latest/apireference/API_UpdateStateMachine.html). Its Data
API ClientTokens are new (they derive from the execution's name), so every step is submitted again;
the product's load ledger makes a load that had committed a no-op.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rsetl.errors import RUNTIME_STOPPED
from rsetl.journal import ExecutionRow
from rsetl.stepfunctions.history import History
from rsetl.stepfunctions.interpreter import Execution
from rsetl.stepfunctions.machines import NAME_LIMIT

__all__ = ["Restart", "abort_interrupted", "execution_row", "journaled_execution", "restart_name"]

_RESTART_SUFFIX = re.compile(r"-restart-\d+$")


@dataclass(frozen=True)
class Restart:
    """An execution found RUNNING in the journal at start-up, and the execution that took its place."""

    interrupted: str
    restarted_as: str | None
    """None when its state machine no longer exists, or it could not be restarted (`error`)."""
    error: str | None = None
    """Why it could not be ended and started again, when it could not."""


def execution_row(execution: Execution, definition: str | None = None) -> ExecutionRow:
    """The journal's row of `execution`; `definition` (JSON text) is given at its start only."""
    assert execution.start_date is not None
    return ExecutionRow(
        arn=execution.arn,
        name=execution.name,
        state_machine_arn=execution.state_machine_arn,
        role_arn=execution.role_arn,
        status=execution.status,
        input=execution.input_text,
        output=json.dumps(execution.output) if execution.status == "SUCCEEDED" else None,
        error=execution.error,
        cause=execution.cause,
        start_date=execution.start_date,
        stop_date=execution.stop_date,
        definition=definition,
    )


def journaled_execution(row: ExecutionRow, history: History) -> Execution:
    """The execution a journal row holds; one that ended is marked done."""
    execution = Execution(
        arn=row.arn,
        name=row.name,
        state_machine_arn=row.state_machine_arn,
        state_machine_name=row.state_machine_arn.rpartition(":")[2],
        program=None,
        definition={} if row.definition is None else json.loads(row.definition),
        input=json.loads(row.input),
        given_input=row.input,
        history=history,
        role_arn=row.role_arn,
        status=row.status,
        start_date=row.start_date,
        stop_date=row.stop_date,
        output=None if row.output is None else json.loads(row.output),
        error=row.error,
        cause=row.cause,
    )
    if execution.status != "RUNNING":
        execution.done.set()
    return execution


def restart_name(name: str, taken: Callable[[str], bool]) -> str:
    """`<name>-restart-<n>`, the first n not `taken` (the name cut to fit AWS's 80 characters)."""
    base = _RESTART_SUFFIX.sub("", name)
    number = 1
    while True:
        suffix = f"-restart-{number}"
        candidate = base[: NAME_LIMIT - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
        number += 1


def abort_interrupted(execution: Execution, restarted_as: str | None, now: datetime) -> None:
    """End `execution` ABORTED by the runtime's stop; `restarted_as` is the execution taking its place."""
    if restarted_as is None:
        cause = (
            "The local runtime stopped while this execution was RUNNING; its state machine no "
            "longer exists, so it was not started again."
        )
    else:
        cause = (
            "The local runtime stopped while this execution was RUNNING; it was started again "
            f"from its input as {restarted_as}."
        )
    execution.error, execution.cause = RUNTIME_STOPPED, cause
    execution.history.add("ExecutionAborted", {"error": RUNTIME_STOPPED, "cause": cause}, closing=True)
    execution.status = "ABORTED"
    execution.stop_date = now
