"""Exceptions raised by the local Step Functions interpreter and service."""

from __future__ import annotations

from typing import Any


class StepFunctionsError(Exception):
    """Base class of every error this package raises."""


class DefinitionError(StepFunctionsError):
    """A state machine definition is not valid Amazon States Language.

    `where` is the JSON path of the offending field in the definition.
    """

    def __init__(self, message: str, where: str = "$") -> None:
        super().__init__(f"{message} (at {where})")
        self.where = where
        self.reason = message


class StatesError(StepFunctionsError):
    """A runtime error in the States Language sense: an error name and a cause.

    This is what Retry and Catch match on, and what fails an execution.
    """

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def to_output(self) -> dict[str, Any]:
        """The error output a Catch passes on: {"Error": ..., "Cause": ...}."""
        return {"Error": self.error, "Cause": self.cause}


class ExecutionStopped(StepFunctionsError):
    """Raised inside a running execution once StopExecution has been called."""


class ExecutionTimedOut(StepFunctionsError):
    """Raised inside a running execution once the machine's TimeoutSeconds has passed."""
