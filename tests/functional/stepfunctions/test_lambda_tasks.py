"""Task states invoking real handlers through the local Lambda runtime (worker processes)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.lambdas import FunctionConfig, LambdaRuntime
from rsetl.stepfunctions import Execution, StepFunctionsEngine

ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LambdaRuntime]:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(
        textwrap.dedent(
            """
            import time

            class PipelineError(Exception):
                pass

            def lambda_handler(event, context):
                if event.get("fail"):
                    raise PipelineError(event["fail"])
                if event.get("sleep"):
                    time.sleep(event["sleep"])
                return {"doubled": event["n"] * 2, "function": context.function_name}
            """
        )
    )
    config = FunctionConfig(name="worker", arn=ARN.format("worker"), code_dir=code, timeout_seconds=0.5)
    with LambdaRuntime([config]) as rt:
        yield rt


def run(runtime: LambdaRuntime, states: dict[str, Any], payload: dict[str, Any]) -> Execution:
    engine = StepFunctionsEngine(VirtualClock(), lambda_invoker=runtime)
    arn = engine.create_state_machine("m", json.dumps({"StartAt": "T", "States": states})).arn
    return engine.start_execution(arn, payload, "e", wait=True)


def test_lambda_invoke_wraps_the_payload(runtime: LambdaRuntime) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": ARN.format("worker"), "Payload.$": "$"},
        "End": True,
    }
    execution = run(runtime, {"T": task}, {"n": 21})
    assert execution.status == "SUCCEEDED"
    output = execution.output
    assert output["Payload"] == {"doubled": 42, "function": "worker"}
    assert output["StatusCode"] == 200
    assert execution.history.stats.lambda_invocations == 1


def test_unhandled_exception_becomes_the_task_error(runtime: LambdaRuntime) -> None:
    task = {"Type": "Task", "Resource": ARN.format("worker"), "End": True}
    execution = run(runtime, {"T": task}, {"fail": "bad rows in file"})
    assert execution.error == "PipelineError"
    assert execution.cause is not None, "a failed execution has a cause"
    cause = json.loads(execution.cause)
    assert cause["errorMessage"] == "bad rows in file" and cause["stackTrace"]


def test_function_timeout_is_sandbox_timedout_and_retried(runtime: LambdaRuntime) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "worker", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["Sandbox.Timedout"], "MaxAttempts": 1, "IntervalSeconds": 5}],
        "End": True,
    }
    execution = run(runtime, {"T": task}, {"n": 1, "sleep": 5})
    assert execution.error == "Sandbox.Timedout"
    assert execution.cause is not None, "a failed execution has a cause"
    assert "Task timed out after 0.50 seconds" in execution.cause
    assert runtime.invocations["worker"] == 2
