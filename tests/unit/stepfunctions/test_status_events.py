"""Standard workflows send "Step Functions Execution Status Change" events to the default bus.

Step Functions events in EventBridge:
https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
"""

from __future__ import annotations

import json
from typing import Any

from rsetl.clock import RealClock
from rsetl.stepfunctions import StepFunctionsEngine


def _engine(events: list[dict[str, Any]]) -> StepFunctionsEngine:
    return StepFunctionsEngine(RealClock(), status_events=events.append)


def test_an_execution_reports_running_then_its_end() -> None:
    events: list[dict[str, Any]] = []
    engine = _engine(events)
    machine = engine.create_state_machine(
        "m", json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )

    execution = engine.start_execution(machine.arn, {"k": 1}, "run-1", wait=True)

    assert [e["DetailType"] for e in events] == ["Step Functions Execution Status Change"] * 2
    assert {e["Source"] for e in events} == {"aws.states"}
    assert [e["Resources"] for e in events] == [[execution.arn]] * 2
    running, succeeded = (json.loads(e["Detail"]) for e in events)
    assert (running["status"], running["stopDate"], running["output"]) == ("RUNNING", None, None)
    assert succeeded["status"] == "SUCCEEDED"
    assert (succeeded["name"], succeeded["stateMachineArn"], succeeded["output"]) == (
        "run-1",
        machine.arn,
        '{"k": 1}',
    )
    assert succeeded["stopDate"] >= succeeded["startDate"]


def test_a_stopped_execution_reports_aborted() -> None:
    events: list[dict[str, Any]] = []
    engine = _engine(events)
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
    machine = engine.create_state_machine("m", json.dumps(definition))
    execution = engine.start_execution(machine.arn, {}, "run-2")

    engine.stop_execution(execution.arn, "Stopped", "by hand")
    engine.wait(execution.arn, timeout=30)

    final = json.loads(events[-1]["Detail"])
    assert (final["status"], final["error"], final["cause"]) == ("ABORTED", "Stopped", "by hand")
