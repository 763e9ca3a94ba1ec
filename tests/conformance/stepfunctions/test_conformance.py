"""Data-driven conformance cases: each YAML case is a definition, an input and what AWS documents.

Every case names the Step Functions developer guide page (and section) it comes from in `doc`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rsetl.clock import VirtualClock
from rsetl.stepfunctions import IntegrationRegistry, LambdaIntegration, StepFunctionsEngine

CASES_DIR = Path(__file__).parent / "cases"


class FunctionError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class StubResult:
    def __init__(self, payload: Any, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error


class StubLambdas:
    """Stand-in Lambda functions: deterministic behaviours the cases refer to by name."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def invoke(self, function: str, payload: Any) -> StubResult:
        name = function.rsplit(":", 1)[-1] if function.startswith("arn:") else function
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            return StubResult(self.behave(name, payload))
        except FunctionError as exc:
            return StubResult({"errorType": exc.error_type, "errorMessage": str(exc)}, "Unhandled")

    def behave(self, name: str, payload: Any) -> Any:
        if name == "echo":
            return payload
        if name == "hello":
            return f"Hello, {payload['who']}!"
        if name == "raise":
            raise FunctionError(payload["type"], payload.get("message", "boom") * payload.get("repeat", 1))
        if name == "flaky":
            # Fails with payload.type until called payload.fail_times times.
            if self.calls[name] <= payload["fail_times"]:
                raise FunctionError(payload["type"], f"attempt {self.calls[name]}")
            return {"attempts": self.calls[name]}
        if name == "big":
            return "x" * (300 * 1024)
        if name == "count":
            return self.calls[name]
        raise AssertionError(f"unknown stub function {name}")


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return params


def run_case(case: dict[str, Any]) -> tuple[Any, StubLambdas]:
    clock = VirtualClock()
    lambdas = StubLambdas()
    registry = IntegrationRegistry({"lambda": LambdaIntegration(lambdas)})
    engine = StepFunctionsEngine(clock, integrations=registry)
    machine = engine.create_state_machine("case", json.dumps(case["definition"]))
    execution = engine.start_execution(machine.arn, case.get("input", {}), "conformance", wait=True)
    return execution, lambdas


@pytest.mark.parametrize("case", load_cases())
def test_case(case: dict[str, Any]) -> None:
    assert case.get("doc"), "every case cites the documentation it comes from"
    execution, lambdas = run_case(case)
    expected = case["expect"]
    if "output" in expected:
        assert (execution.status, execution.error, execution.cause) == ("SUCCEEDED", None, None)
        assert execution.output == expected["output"]
    else:
        assert execution.status == expected.get("status", "FAILED")
        assert execution.error == expected["error"]
        if "cause" in expected:
            assert execution.cause == expected["cause"]
        if "cause_contains" in expected:
            assert expected["cause_contains"] in execution.cause
    if "elapsed_seconds" in expected:
        events = execution.history.events
        elapsed = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
        assert elapsed == pytest.approx(expected["elapsed_seconds"])
    if "calls" in expected:
        assert lambdas.calls == expected["calls"]
    if "events" in expected:
        types = [event["type"] for event in execution.history.events]
        assert types == expected["events"]
