"""Typed states: a definition is built once, at CreateStateMachine, into one class per state type.

"State machine structure in Amazon States Language for Step Functions workflows"
(https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html): a state's
`QueryLanguage` overrides its machine's, which defaults to JSONPath.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.stepfunctions import StepFunctionsEngine
from rsetl.stepfunctions.choice import AllOf, AnyOf, Comparison, NoneOf
from rsetl.stepfunctions.exceptions import InvalidDefinition
from rsetl.stepfunctions.groups import MapState, ParallelState
from rsetl.stepfunctions.processing import JsonataProcessing, JsonPathProcessing
from rsetl.stepfunctions.recovery import Retrier
from rsetl.stepfunctions.states import (
    ChoiceState,
    ComparisonRule,
    ConditionRule,
    FailState,
    PassState,
    SucceedState,
    WaitState,
)
from rsetl.stepfunctions.task import TaskState

EVERY_TYPE = {
    "StartAt": "P",
    "States": {
        "P": {"Type": "Pass", "Next": "T"},
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
            "Next": "C",
        },
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "W"}],
            "Default": "S",
        },
        "W": {"Type": "Wait", "Seconds": 1, "Next": "M"},
        "M": {
            "Type": "Map",
            "QueryLanguage": "JSONata",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
            "Next": "R",
        },
        "R": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "J", "States": {"J": {"Type": "Pass", "End": True}}},
                {
                    "QueryLanguage": "JSONata",
                    "StartAt": "K",
                    "States": {"K": {"Type": "Pass", "End": True}},
                },
            ],
            "Next": "S",
        },
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail", "Error": "E"},
    },
}


def _machine(definition: dict[str, Any]) -> Any:
    return StepFunctionsEngine(VirtualClock()).create_state_machine("m", json.dumps(definition))


def test_each_state_type_is_built_into_its_own_class() -> None:
    states = _machine(EVERY_TYPE).program.states
    classes = {name: type(state) for name, state in states.items()}
    assert classes == {
        "P": PassState,
        "T": TaskState,
        "C": ChoiceState,
        "W": WaitState,
        "M": MapState,
        "R": ParallelState,
        "S": SucceedState,
        "F": FailState,
    }
    task = states["T"]
    assert task.waits_for_token and task.next == "C"
    assert task.recovery.retriers == (Retrier(("States.ALL",), interval_seconds=2.0, max_attempts=1),)
    assert [catcher.next for catcher in task.recovery.catchers] == ["F"]


def test_the_query_language_is_chosen_once_per_state() -> None:
    """A state's QueryLanguage decides its processing; a Map's or Parallel branch's states inherit
    the language of the state (or branch) they are in."""
    states = _machine(EVERY_TYPE).program.states
    assert isinstance(states["P"].processing, JsonPathProcessing)
    assert isinstance(states["M"].processing, JsonataProcessing)
    assert isinstance(states["M"].processor.states["I"].processing, JsonataProcessing)
    first, second = states["R"].branches
    assert isinstance(first.states["J"].processing, JsonPathProcessing)
    assert isinstance(second.states["K"].processing, JsonataProcessing)
    assert [type(rule) for rule in states["C"].choices] == [ComparisonRule]


def test_jsonpath_choice_rules_are_typed_once() -> None:
    """ "Choice workflow state" (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html):
    And, Or and Not combine comparisons; a `...Path` operator compares with the value at a path."""
    rule = {
        "And": [
            {"Not": {"Variable": "$.a", "IsNull": True}},
            {
                "Or": [
                    {"Variable": "$.a", "NumericGreaterThanPath": "$.b"},
                    {"Variable": "$.c", "IsPresent": True},
                ]
            },
        ],
        "Next": "S",
    }
    definition = {
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": [rule], "Default": "S"}, "S": {"Type": "Succeed"}},
    }
    (built,) = _machine(definition).program.states["C"].choices
    assert built.condition == AllOf(
        (
            NoneOf(Comparison("$.a", "IsNull", True, by_path=False)),
            AnyOf(
                (
                    Comparison("$.a", "NumericGreaterThan", "$.b", by_path=True),
                    Comparison("$.c", "IsPresent", True, by_path=False),
                )
            ),
        )
    )


def test_a_jsonata_choice_state_has_condition_rules() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "S"}]},
            "S": {"Type": "Succeed"},
        },
    }
    (rule,) = _machine(definition).program.states["C"].choices
    assert isinstance(rule, ConditionRule)
    assert rule.condition == "{% true %}"


def test_executions_run_the_states_built_at_create_state_machine() -> None:
    """The definition is read once: changing the stored JSON afterwards changes nothing an
    execution does (on AWS, a machine's definition changes only through UpdateStateMachine)."""
    engine = StepFunctionsEngine(VirtualClock())
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "built", "End": True}}}
    machine = engine.create_state_machine("m", json.dumps(definition))
    machine.definition["States"]["P"]["Result"] = "changed"
    execution = engine.start_execution(machine.arn, {}, "e", wait=True)
    assert (execution.status, execution.output) == ("SUCCEEDED", "built")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"IntervalSeconds": "1"},
            "IntervalSeconds must be a number, got '1' (at $.States.T.Retry[0].IntervalSeconds)",
        ),
        (
            {"BackoffRate": True},
            "BackoffRate must be a number, got True (at $.States.T.Retry[0].BackoffRate)",
        ),
        ({"MaxDelaySeconds": [5]}, "MaxDelaySeconds must be a number"),
        (
            {"MaxAttempts": "3"},
            "MaxAttempts must be an integer, got '3' (at $.States.T.Retry[0].MaxAttempts)",
        ),
        ({"MaxAttempts": 2.5}, "MaxAttempts must be an integer"),
    ],
)
def test_retrier_fields_are_checked_at_create_state_machine(entry: dict[str, Any], message: str) -> None:
    """ "Retrying after an error" in "Handling errors in Step Functions workflows"
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): IntervalSeconds,
    BackoffRate and MaxDelaySeconds are numbers, MaxAttempts an integer; AWS refuses a definition
    with anything else at CreateStateMachine, so the local runtime does too instead of failing the
    execution when the retrier is first used."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Retry": [{"ErrorEquals": ["States.ALL"], **entry}],
                "End": True,
            }
        },
    }
    with pytest.raises(InvalidDefinition) as error:
        _machine(definition)
    assert message in str(error.value)


def test_a_machine_timeout_is_a_number_of_seconds() -> None:
    """ "State machine structure": TimeoutSeconds is the maximum number of seconds an execution runs."""
    definition = {"TimeoutSeconds": "60", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    with pytest.raises(
        InvalidDefinition, match=r"TimeoutSeconds must be a number of seconds \(at \$.TimeoutSeconds\)"
    ):
        _machine(definition)


def test_retry_delays_grow_by_the_backoff_rate_up_to_the_cap() -> None:
    """ "Retrying after an error": IntervalSeconds x BackoffRate^attempt, at most MaxDelaySeconds."""
    retrier = Retrier(("X",), interval_seconds=2.0, backoff_rate=3.0, max_delay_seconds=10.0)
    assert [retrier.delay(attempt) for attempt in range(3)] == [2.0, 6.0, 10.0]
