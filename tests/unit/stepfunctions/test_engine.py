"""Engine, definitions and history: limits, validation messages, stopping, event shapes."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from rsetl.clock import RealClock, VirtualClock
from rsetl.stepfunctions import (
    DefinitionError,
    ExecutionAlreadyExists,
    InvalidName,
    StepFunctionsEngine,
    load_definition,
)

LOOP = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}


def test_history_stops_at_25000_events_with_the_failure_recorded() -> None:
    engine = StepFunctionsEngine(VirtualClock())
    arn = engine.create_state_machine("loop", json.dumps(LOOP)).arn
    execution = engine.start_execution(arn, {}, "loop", wait=True)
    assert len(execution.history) == 25_000
    assert execution.history.events[-1]["type"] == "ExecutionFailed"
    assert execution.error == "States.Runtime"


def test_history_events_use_the_botocore_model_fields() -> None:
    shape = botocore.session.get_session().get_service_model("stepfunctions").shape_for("HistoryEvent")
    members = shape.members  # type: ignore[attr-defined]
    engine = StepFunctionsEngine(VirtualClock())
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "W",
                    "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}},
                },
                "Next": "P",
            },
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}],
                "End": True,
            },
        },
    }
    arn = engine.create_state_machine("shapes", json.dumps(definition)).arn
    execution = engine.start_execution(arn, [1, 2], "shapes", wait=True)
    assert execution.status == "SUCCEEDED"
    for event in execution.history.events:
        assert set(event) <= set(members), event
        details = [key for key in event if key.endswith("EventDetails")]
        for key in details:
            detail_members = members[key].members
            assert set(event[key]) <= set(detail_members), (key, event[key])
    started = next(e for e in execution.history.events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 2}
    ids = [e["id"] for e in execution.history.events]
    assert ids == list(range(1, len(ids) + 1))


def test_stop_execution_interrupts_a_real_wait() -> None:
    engine = StepFunctionsEngine(RealClock())
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = engine.create_state_machine("wait", json.dumps(definition)).arn
    execution = engine.start_execution(arn, {}, "w")
    engine.stop_execution(execution.arn, "Stopped", "by test")
    assert engine.wait(execution.arn, 10).status == "ABORTED"
    assert (execution.error, execution.cause) == ("Stopped", "by test")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"StartAt": "X", "States": {"A": {"Type": "Pass", "End": True}}},
            "StartAt 'X' names no state in States (at $.StartAt)",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}, "Transition to 'Z'"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}},
            "needs a Resource string (at $.States.A.Resource)",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "needs Next or"),
        (
            {
                "StartAt": "A",
                "States": {
                    "A": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                        "End": True,
                    }
                },
            },
            "in the last Retry entry (at $.States.A.Retry[0].ErrorEquals)",
        ),
        ({"StartAt": "A", "States": {"A": {"Type": "Loop", "End": True}}}, "unknown Type 'Loop'"),
        (
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "A"}]}},
            },
            "comparison operator, And, Or, Not or Condition (at $.States.A.Choices[0])",
        ),
        (
            {
                "StartAt": "P",
                "States": {
                    "P": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "Q", "States": {}}]}
                },
            },
            "at $.States.P.Branches[0].States",
        ),
    ],
)
def test_invalid_definitions_say_what_and_where(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        load_definition(json.dumps(definition))
    assert message in str(error.value)


def test_placeholders_are_substituted_or_reported() -> None:
    text = '{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${Fn}", "End": true}}}'
    assert load_definition(text, {"Fn": "arn:x"})["States"]["T"]["Resource"] == "arn:x"
    with pytest.raises(DefinitionError, match=r"No DefinitionSubstitutions value for placeholder \$\{Fn\}"):
        load_definition(text, {})


def test_names_follow_aws_rules_and_are_unique() -> None:
    engine = StepFunctionsEngine(VirtualClock())
    arn = engine.create_state_machine("m", json.dumps(LOOP)).arn
    with pytest.raises(InvalidName):
        engine.start_execution(arn, {}, "has space")
    with pytest.raises(InvalidName):
        engine.create_state_machine("bad/name", json.dumps(LOOP))
    definition = {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
    other = engine.create_state_machine("s", json.dumps(definition)).arn
    engine.start_execution(other, {}, "once", wait=True)
    with pytest.raises(ExecutionAlreadyExists):
        engine.start_execution(other, {}, "once", wait=True)
