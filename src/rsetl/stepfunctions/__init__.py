"""Local AWS Step Functions: an Amazon States Language interpreter and the `states` API."""

from __future__ import annotations

from rsetl.stepfunctions.definition import load_definition, substitute, validate_definition
from rsetl.stepfunctions.engine import (
    ExecutionAlreadyExists,
    ExecutionNotFound,
    InvalidName,
    StateMachine,
    StateMachineAlreadyExists,
    StateMachineNotFound,
    StepFunctionsEngine,
)
from rsetl.stepfunctions.exceptions import (
    DefinitionError,
    ExecutionStopped,
    ExecutionTimedOut,
    StatesError,
    StepFunctionsError,
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
from rsetl.stepfunctions.service import StatesService
from rsetl.stepfunctions.tokens import TaskTokenNotFound, TaskTokens

__all__ = [
    "HISTORY_EVENT_LIMIT",
    "AwsSdkIntegration",
    "DefinitionError",
    "EventsIntegration",
    "Execution",
    "ExecutionAlreadyExists",
    "ExecutionNotFound",
    "ExecutionStats",
    "ExecutionStopped",
    "ExecutionTimedOut",
    "History",
    "IntegrationRegistry",
    "Interpreter",
    "InvalidName",
    "LambdaIntegration",
    "ServiceIntegration",
    "StateMachine",
    "StateMachineAlreadyExists",
    "StateMachineNotFound",
    "StatesError",
    "StatesIntegration",
    "StatesService",
    "StepFunctionsEngine",
    "StepFunctionsError",
    "TaskRequest",
    "TaskTokenNotFound",
    "TaskTokens",
    "load_definition",
    "substitute",
    "validate_definition",
]
