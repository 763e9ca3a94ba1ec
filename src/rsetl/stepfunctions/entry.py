"""One entry into a state: what it received, where it runs, and what it has assigned so far."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rsetl.stepfunctions import errors, query
from rsetl.stepfunctions.exceptions import StatesError

if TYPE_CHECKING:
    from rsetl.stepfunctions.interpreter import Run
    from rsetl.stepfunctions.states import State

_LOCATED_PREFIX = "An error occurred while executing the state"
_LOCATED_ERRORS = frozenset({errors.RUNTIME, errors.QUERY_EVALUATION_ERROR})


class BranchCancelled(Exception):
    """A sibling branch failed; this branch stops at its next state boundary."""


@dataclass
class Frame:
    """Where a state runs: its branch's variables, Map item and cancellation flag."""

    variables: dict[str, Any]
    map_item: dict[str, Any] | None = None
    cancel: threading.Event | None = None

    def child(self, cancel: threading.Event, map_item: dict[str, Any] | None = None) -> Frame:
        """A branch's or iteration's frame: it reads the outer variables; what it assigns stays inside."""
        return Frame(copy.deepcopy(self.variables), map_item, cancel)


@dataclass
class StateEntry:
    """The processing of one state entry (with its retries)."""

    run: Run
    state: State
    raw_input: Any
    frame: Frame
    entered_at: datetime
    entered_id: int
    retry_count: int = 0
    token: str | None = None
    assigned: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def variables(self) -> dict[str, Any]:
        return self.frame.variables

    def context(self) -> dict[str, Any]:
        """The context object as this state sees it (`$$` / `$states.context`)."""
        retry_count = self.retry_count if self.state.counts_retries else None
        return self.run.context(self.name, self.entered_at, retry_count, self.frame, self.token)

    def bindings(self, **states: Any) -> dict[str, Any]:
        """What a JSONata expression sees: the variables and `$states`."""
        return {**self.variables, "states": {"input": self.raw_input, "context": self.context(), **states}}

    def in_item(self, map_item: dict[str, Any]) -> StateEntry:
        """This entry as a Map's ItemSelector sees it: with the item in the context object."""
        frame = Frame(self.frame.variables, map_item, self.frame.cancel)
        return StateEntry(
            self.run, self.state, self.raw_input, frame, self.entered_at, self.entered_id,
            self.retry_count, self.token, self.assigned,
        )  # fmt: skip

    def commit_assignments(self) -> None:
        self.variables.update(self.assigned)

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
