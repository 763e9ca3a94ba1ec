"""Exceptions raised by the local Step Functions interpreter and service."""

from __future__ import annotations

from typing import Any

from rsetl.errors import ServiceError


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


class StatesApiError(ServiceError, StepFunctionsError):
    """Base of the errors the `states` API answers with: the class name is AWS's error code."""


class InvalidArn(StatesApiError):
    """The ARN is not one of a state machine (or an execution) where the call needs one."""


class InvalidDefinition(StatesApiError):
    """The definition is not valid Amazon States Language (it wraps a :class:`DefinitionError`)."""


class InvalidExecutionInput(StatesApiError):
    """StartExecution's input is not JSON."""


class InvalidName(StatesApiError):
    """A state machine or execution name breaks AWS's naming rules."""


class InvalidOutput(StatesApiError):
    """SendTaskSuccess's output is not JSON."""


class InvalidToken(StatesApiError):
    """A pagination (or task) token that the service did not issue."""


class StateMachineAlreadyExists(StatesApiError):
    """A state machine of this name exists with another definition."""


class StateMachineDoesNotExist(StatesApiError):
    """No state machine has this ARN."""


class StateMachineTypeNotSupported(StatesApiError):
    """The operation is not for this type of state machine (StartSyncExecution of a STANDARD one)."""


class ExecutionAlreadyExists(StatesApiError):
    """An execution of this name already exists for the state machine."""


class ExecutionDoesNotExist(StatesApiError):
    """No execution has this ARN."""


class TaskDoesNotExist(StatesApiError):
    """No running task waits for this task token (unknown, or its task already ended)."""
