"""The project's RunPipeline machine (statemachines/run_pipeline.asl.json) on the virtual clock.

The Lambda functions are stubs that simulate a Data API statement of a given duration, so the
machine's own polling loop (Wait with backoff, CheckStatement, Choice on every status) is what
is exercised, for statements of 1 s, 1 min, 1 h and 24 h, within the 25,000-event history limit.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.stepfunctions import (
    HISTORY_EVENT_LIMIT,
    IntegrationRegistry,
    LambdaIntegration,
    StepFunctionsEngine,
)

ASL = Path(__file__).resolve().parents[3] / "statemachines" / "run_pipeline.asl.json"
FUNCTIONS = {
    "PrepareRunFunctionArn": "PrepareRun",
    "ExecuteStepFunctionArn": "ExecuteStep",
    "CheckStatementFunctionArn": "CheckStatement",
    "CancelStatementFunctionArn": "CancelStatement",
    "EmitEventFunctionArn": "EmitEvent",
}
MAX_POLL_SECONDS = 300


class Result:
    def __init__(self, payload: Any, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error


class StubFunctions:
    """Stand-ins for the project's handlers, simulating statements on the machine's clock."""

    def __init__(self, final_status: str = "FINISHED", conflicts: int = 0) -> None:
        self.final_status = final_status
        self.conflicts = conflicts
        """Submissions that end FAILED with a serialization failure before one runs."""
        self.attempts: list[int] = []
        self.calls: dict[str, int] = {}
        self.emitted: list[dict[str, Any]] = []

    def invoke(self, function: str, payload: Any) -> Result:
        name = function.rsplit(":", 1)[-1]
        self.calls[name] = self.calls.get(name, 0) + 1
        return Result(getattr(self, name)(payload))

    def PrepareRun(self, event: dict[str, Any]) -> dict[str, Any]:
        duration = event["input"]["duration_seconds"]
        return {
            "pipeline": "demo",
            "execution_name": event["execution_name"],
            "stages": [{"steps": [{"name": "load", "duration_seconds": duration}]}],
        }

    def ExecuteStep(self, event: dict[str, Any]) -> dict[str, Any]:
        step = event["step"]
        attempt = event["attempt"]
        self.attempts.append(attempt)
        statement = {
            "id": f"stmt-{step['name']}-{attempt}",
            "step": step["name"],
            "submitted_at": event["now"],
            "duration_seconds": step["duration_seconds"],
            "timeout_seconds": 90_000,
            "attempt": attempt,
        }
        if attempt <= self.conflicts:
            return {**statement, "status": "FAILED", "timed_out": False, "wait_seconds": 3,
                    "cause": "ERROR: 1023", "retry": True}  # fmt: skip
        return self._status(statement, event["now"])

    def CheckStatement(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._status(event["statement"], event["now"])

    def _status(self, statement: dict[str, Any], now: str) -> dict[str, Any]:
        age = (
            datetime.fromisoformat(now) - datetime.fromisoformat(statement["submitted_at"])
        ).total_seconds()
        done = age >= statement["duration_seconds"]
        wait = min(max(1, int(age // 10)), MAX_POLL_SECONDS)
        return {
            **statement,
            "status": self.final_status if done else "STARTED",
            "timed_out": False,
            "wait_seconds": wait,
            "cause": "simulated failure" if done and self.final_status != "FINISHED" else None,
            "retry": False,
        }

    def CancelStatement(self, event: dict[str, Any]) -> dict[str, Any]:
        # The shape the real handler returns for one statement (etl_common.runs.cancel_step).
        return {"cancelled": True, "cause": "cancelled"}

    def EmitEvent(self, event: dict[str, Any]) -> dict[str, Any]:
        self.emitted.append(event)
        result: dict[str, Any] = {"event_id": f"event-{len(self.emitted)}"}
        if event["outcome"] == "FAILED":
            result["cause"] = json.dumps(event["caught"])
        return result


def run_pipeline(
    duration: int, final_status: str = "FINISHED", conflicts: int = 0
) -> tuple[Any, StubFunctions]:
    if not ASL.exists():
        pytest.fail(f"{ASL} is missing: the RunPipeline definition is part of the project")
    stubs = StubFunctions(final_status, conflicts)
    engine = StepFunctionsEngine(
        VirtualClock(), integrations=IntegrationRegistry({"lambda": LambdaIntegration(stubs)})
    )
    substitutions = {
        key: f"arn:aws:lambda:us-east-1:000000000000:function:{name}" for key, name in FUNCTIONS.items()
    }
    machine = engine.create_state_machine("RunPipeline", ASL.read_text(), substitutions=substitutions)
    execution = engine.start_execution(machine.arn, {"duration_seconds": duration}, "run", wait=True)
    return execution, stubs


@pytest.mark.parametrize("duration", [1, 60, 3600, 86400], ids=["1s", "1min", "1h", "24h"])
def test_statement_of_any_length_completes_within_the_history_limit(duration: int) -> None:
    execution, stubs = run_pipeline(duration)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    events = execution.history.events
    assert len(events) < HISTORY_EVENT_LIMIT
    elapsed = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
    assert duration <= elapsed <= duration + MAX_POLL_SECONDS
    assert [e["outcome"] for e in stubs.emitted] == ["SUCCEEDED"]
    stats = execution.history.stats
    assert stats.lambda_invocations == sum(stubs.calls.values())
    assert stats.events_by_type["WaitStateEntered"] == stubs.calls["CheckStatement"]


def test_failed_statement_fails_the_pipeline_and_emits_the_failure() -> None:
    execution, stubs = run_pipeline(120, final_status="FAILED")
    assert (execution.status, execution.error) == ("FAILED", "rsetl.PipelineFailed")
    assert [e["outcome"] for e in stubs.emitted] == ["FAILED"]
    assert stubs.emitted[0]["caught"]["Error"] == "rsetl.StatementFailed"


def test_unknown_status_is_not_polled_forever() -> None:
    execution, stubs = run_pipeline(5, final_status="SOMETHING_NEW")
    assert (execution.status, execution.error) == ("FAILED", "rsetl.PipelineFailed")
    assert stubs.emitted[0]["caught"]["Error"] == "rsetl.UnknownStatementStatus"


def test_a_serialization_failure_submits_the_step_again_as_the_next_attempt() -> None:
    """Error 1023 rolled the transaction back; running it again is Redshift's fix ("Fixing
    serializable isolation errors", https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)."""
    execution, stubs = run_pipeline(5, conflicts=2)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert stubs.attempts == [1, 2, 3]
    assert [e["outcome"] for e in stubs.emitted] == ["SUCCEEDED"]
