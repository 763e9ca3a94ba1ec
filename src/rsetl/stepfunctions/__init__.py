"""Local AWS Step Functions: an Amazon States Language interpreter and the `states` API."""

from __future__ import annotations

from rsetl.stepfunctions.definition import load_definition, substitute, validate_definition
from rsetl.stepfunctions.engine import StepFunctionsEngine
from rsetl.stepfunctions.exceptions import (
    DefinitionError,
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionStopped,
    ExecutionTimedOut,
    InvalidDefinition,
    InvalidName,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
    StatesApiError,
    StatesError,
    StepFunctionsError,
    TaskDoesNotExist,
)
from rsetl.stepfunctions.history import HISTORY_EVENT_LIMIT, ExecutionStats, History
from rsetl.stepfunctions.integrations import (
    AwsSdkIntegration,
    EventsIntegration,
    IntegrationRegistry,
    LambdaIntegration,
    ServiceIntegration,
    StatesIntegration,
    TaskRequest,
)
from rsetl.stepfunctions.interpreter import Execution, Interpreter
from rsetl.stepfunctions.machines import StateMachine
from rsetl.stepfunctions.service import StatesService
from rsetl.stepfunctions.tokens import TaskTokens

__all__ = [
    "HISTORY_EVENT_LIMIT",
    "AwsSdkIntegration",
    "DefinitionError",
    "EventsIntegration",
    "Execution",
    "ExecutionAlreadyExists",
    "ExecutionDoesNotExist",
    "ExecutionStats",
    "ExecutionStopped",
    "ExecutionTimedOut",
    "History",
    "IntegrationRegistry",
    "Interpreter",
    "InvalidDefinition",
    "InvalidName",
    "LambdaIntegration",
    "ServiceIntegration",
    "StateMachine",
    "StateMachineAlreadyExists",
    "StateMachineDoesNotExist",
    "StatesApiError",
    "StatesError",
    "StatesIntegration",
    "StatesService",
    "StepFunctionsEngine",
    "StepFunctionsError",
    "TaskDoesNotExist",
    "TaskRequest",
    "TaskTokens",
    "load_definition",
    "substitute",
    "validate_definition",
]
