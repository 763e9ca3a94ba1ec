"""The typed states of a definition, one class per state type, built once at CreateStateMachine.

Every state runs the same sequence (:meth:`State.enter`): its StateEntered event, its input
processing, its work, its output processing and its StateExited event. The types differ only
in their work, and Task, Parallel and Map in retrying and catching (:mod:`.recovery`); the
Amazon States Language specification and the state type pages of the Step Functions developer
guide say what each does. Task is in :mod:`.task`, Parallel and Map in :mod:`.groups`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rsetl.stepfunctions import errors, query
from rsetl.stepfunctions.choice import ChoiceCondition, parse_timestamp
from rsetl.stepfunctions.entry import Frame, StateEntry
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.history import dumps
from rsetl.stepfunctions.paths import missing_field_path
from rsetl.stepfunctions.processing import FieldValue, Processing, Template
from rsetl.stepfunctions.recovery import Recovery

if TYPE_CHECKING:
    from rsetl.stepfunctions.interpreter import Run

# AWS's wait limit: a delay of 2^31 seconds or more is "Wait state delay is too long."
MAX_WAIT_SECONDS = 2**31 - 1


def shown(value: Any) -> str:
    """A value quoted in a cause: a string as itself, anything else as compact JSON."""
    return value if isinstance(value, str) else dumps(value)


@dataclass(frozen=True)
class Program:
    """A state machine's states (or a Parallel branch's, or a Map's item processor)."""

    start_at: str
    states: Mapping[str, State]
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class State:
    """What every state has: its name, where it goes next, and its input and output processing."""

    type: ClassVar[str]
    counts_retries: ClassVar[bool] = False
    """Whether the context object shows `State.RetryCount` (Task states only)."""
    has_result: ClassVar[bool] = False
    """Whether JSONata's Output and Assign see the work's result as `$states.result`."""

    name: str
    processing: Processing
    next: str | None

    def enter(self, run: Run, data: Any, frame: Frame) -> tuple[Any, str | None]:
        """Run this state on `data`, recording its history; its output and the next state's name."""
        entered_at = run.clock.now()
        entered_id = run.history.add(
            f"{self.type}StateEntered",
            {"name": self.name, "input": dumps(data), "inputDetails": {"truncated": False}},
        )
        entry = StateEntry(run, self, data, frame, entered_at, entered_id)
        try:
            output, following = self.execute(entry)
        except StatesError as exc:
            entry.record_failure(exc)
            raise
        run.check_size(output, self.name)
        exited: dict[str, Any] = {
            "name": self.name,
            "output": dumps(output),
            "outputDetails": {"truncated": False},
        }
        if entry.assigned:
            exited["assignedVariables"] = {key: dumps(value) for key, value in entry.assigned.items()}
            exited["assignedVariablesDetails"] = {"truncated": False}
        run.history.add(f"{self.type}StateExited", exited)
        return output, following

    def execute(self, entry: StateEntry) -> tuple[Any, str | None]:
        """The state's output and the next state's name."""
        return self.attempt(entry), self.next

    def attempt(self, entry: StateEntry) -> Any:
        """Input processing, work, output processing."""
        effective = self.processing.effective_input(entry)
        return self.finish(entry, self.work(entry, effective))

    def finish(self, entry: StateEntry, result: Any) -> Any:
        """Output processing of the work's result."""
        if self.has_result:
            return self.processing.output(entry, result, result=result)
        return self.processing.output(entry, result)

    def work(self, entry: StateEntry, effective: Any) -> Any:
        """The state's result from its effective input."""
        return effective


@dataclass(frozen=True)
class RecoveringState(State):
    """A state with Retry and Catch: each attempt runs input, work and output again."""

    recovery: Recovery

    def execute(self, entry: StateEntry) -> tuple[Any, str | None]:
        return self.recovery.run(entry, lambda: self.attempt(entry), self.next)


@dataclass(frozen=True)
class PassState(State):
    """Passes its input (or `Result`, or its Parameters) on."""

    type: ClassVar[str] = "Pass"
    result: Template | None = None

    def work(self, entry: StateEntry, effective: Any) -> Any:
        result = self.processing.arguments(entry, effective)
        return result if self.result is None else copy.deepcopy(self.result.value)


@dataclass(frozen=True)
class SucceedState(State):
    """Ends its branch successfully."""

    type: ClassVar[str] = "Succeed"


@dataclass(frozen=True)
class FailState(State):
    """Fails the execution with its Error and Cause."""

    type: ClassVar[str] = "Fail"
    error: FieldValue
    cause: FieldValue

    def execute(self, entry: StateEntry) -> tuple[Any, str | None]:
        data = entry.raw_input
        error = self._text(entry, self.error, data)
        cause = self._text(entry, self.cause, data)
        raise StatesError(error, cause)

    def _text(self, entry: StateEntry, value: FieldValue, data: Any) -> str:
        path_field = f"{value.name}Path"

        def missing(path: str, _: Any) -> StatesError:
            return missing_field_path(path, path_field, data)

        found = self.processing.field(entry, value, data, missing) if value.given or value.by_path else ""
        return str(found) if found is not None else ""


@dataclass(frozen=True)
class WaitState(State):
    """Waits for Seconds or until Timestamp ("Wait workflow state",
    https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html)."""

    type: ClassVar[str] = "Wait"
    seconds: FieldValue
    timestamp: FieldValue

    def work(self, entry: StateEntry, effective: Any) -> Any:
        if self.seconds.given or self.seconds.by_path:
            entry.run.sleep(self._seconds(entry, effective))
        else:
            delay = (self._timestamp(entry, effective) - entry.run.clock.now()).total_seconds()
            if delay > MAX_WAIT_SECONDS:
                raise StatesError(errors.RUNTIME, "Wait state delay is too long.")
            entry.run.sleep(delay)
        return effective

    def _seconds(self, entry: StateEntry, data: Any) -> int:
        """Seconds or SecondsPath as AWS checks them: a non-negative integer."""
        path = self.seconds.path

        def missing(shown_path: str, _: Any) -> StatesError:
            return StatesError(
                errors.RUNTIME, f"The SecondsPath parameter does not reference an input value: {shown_path}"
            )

        seconds = self.processing.field(entry, self.seconds, data, missing)
        whole = isinstance(seconds, int) and not isinstance(seconds, bool)
        if path is not None:
            if not whole:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter cannot be parsed as a long value: {path} == {shown(seconds)}",
                )
            if seconds < 0:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter references a negative value: {path} == {shown(seconds)}",
                )
        elif not whole or seconds < 0:
            raise self.processing.field_error(
                "Seconds", f"The Seconds field must be a non-negative integer, got: {shown(seconds)}"
            )
        return int(seconds)

    def _timestamp(self, entry: StateEntry, data: Any) -> datetime:
        """Timestamp or TimestampPath: RFC 3339 with an uppercase `T` and `Z`, fractional seconds of
        any length."""

        def missing(shown_path: str, _: Any) -> StatesError:
            return StatesError(
                errors.RUNTIME, f"The TimestampPath parameter does not reference an input value: {shown_path}"
            )

        stamp = self.processing.field(entry, self.timestamp, data, missing)
        moment = parse_timestamp(stamp) if isinstance(stamp, str) and stamp.endswith("Z") else None
        if moment is not None:
            return moment
        if self.timestamp.path is not None:
            raise StatesError(
                errors.RUNTIME,
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {self.timestamp.path} == {shown(stamp)}",
            )
        raise self.processing.field_error(
            "Timestamp",
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: "
            f"{shown(stamp)}",
        )


@dataclass(frozen=True)
class ChoiceRule(ABC):
    """One of a Choice state's rules and where it goes ("Choice workflow state",
    https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html).

    `processing` is the state's, with the rule's own Output and Assign where it has them.
    """

    next: str
    processing: Processing

    @abstractmethod
    def matches(self, entry: StateEntry, effective: Any) -> bool:
        """Whether the rule matches the state's effective input."""


@dataclass(frozen=True)
class ComparisonRule(ChoiceRule):
    """A JSONPath Choice Rule: comparisons on paths, And, Or, Not (:mod:`.choice`)."""

    condition: ChoiceCondition

    def matches(self, entry: StateEntry, effective: Any) -> bool:
        return self.condition.matches(effective, entry.context(), entry.variables)


@dataclass(frozen=True)
class ConditionRule(ChoiceRule):
    """A JSONata Choice Rule: a Condition that must evaluate to a boolean."""

    condition: Any
    """A `{% %}` expression, or a JSON boolean written as it is."""

    def matches(self, entry: StateEntry, effective: Any) -> bool:
        matched = query.evaluate(self.condition, entry.bindings(), "Condition")
        if not isinstance(matched, bool):
            raise query.QueryEvaluationError(
                f"The JSONata expression '{query.expression_text(self.condition)}' specified for the "
                f"field 'Condition' returned an unexpected result type. Expected 'boolean', but was "
                f"'{query.json_type(matched)}' for value: {dumps(matched)}",
                "Condition",
            )
        return matched


@dataclass(frozen=True)
class ChoiceState(State):
    """Goes to the Next of the first rule that matches, else to Default."""

    type: ClassVar[str] = "Choice"
    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None

    def execute(self, entry: StateEntry) -> tuple[Any, str | None]:
        effective = self.processing.effective_input(entry)
        chosen = next((rule for rule in self.choices if rule.matches(entry, effective)), None)
        if chosen is not None:
            return chosen.processing.output(entry, effective), chosen.next
        if self.default is None:
            raise StatesError(
                errors.NO_CHOICE_MATCHED, f"No Choice rule matched and no Default in state '{self.name}'"
            )
        return self.processing.output(entry, effective), self.default
