"""Injected Lambda faults: an exception, a timeout that loses the result, a service error."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsetl.lambdas import FunctionConfig, LambdaFault, LambdaRuntime, LambdaServiceError

ARN = "arn:aws:lambda:us-east-1:000000000000:function:counter"


@pytest.fixture
def lambdas(tmp_path: Path) -> Iterator[LambdaRuntime]:
    code = tmp_path / "counter"
    code.mkdir()
    (code / "app.py").write_text(
        textwrap.dedent(
            """
            import pathlib

            def lambda_handler(event, context):
                marker = pathlib.Path(event["marker"])
                marker.write_text(marker.read_text() + "x" if marker.exists() else "x")
                return {"runs": len(marker.read_text())}
            """
        )
    )
    config = FunctionConfig(name="counter", arn=ARN, code_dir=code, handler="app.lambda_handler")
    with LambdaRuntime([config], work_dir=tmp_path / "work") as runtime:
        yield runtime


def test_exception_fails_without_running_the_handler(lambdas: LambdaRuntime, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    lambdas.faults.fail_next("counter", LambdaFault.EXCEPTION)
    failed = lambdas.invoke("counter", {"marker": str(marker)})
    assert failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "InjectedError"
    assert not marker.exists()
    assert lambdas.invoke("counter", {"marker": str(marker)}).payload == {"runs": 1}


def test_timeout_runs_the_handler_and_loses_its_result(lambdas: LambdaRuntime, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    lambdas.faults.fail_next("counter", "timeout")
    timed_out = lambdas.invoke(ARN, {"marker": str(marker)})
    assert timed_out.function_error == "Unhandled"
    assert timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert marker.read_text() == "x"
    assert lambdas.invoke(ARN, {"marker": str(marker)}).payload == {"runs": 2}


def test_service_error_raises_and_counts_down(lambdas: LambdaRuntime, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    lambdas.faults.fail_next("counter", LambdaFault.SERVICE_ERROR, count=2)
    for _ in range(2):
        with pytest.raises(LambdaServiceError) as raised:
            lambdas.invoke("counter", {"marker": str(marker)})
        assert raised.value.code == "ServiceException"
    assert lambdas.faults.pending("counter") == 0
    assert not marker.exists()
    assert lambdas.invoke("counter", {"marker": str(marker)}).payload == {"runs": 1}


def test_clear_and_unknown_fault(lambdas: LambdaRuntime) -> None:
    lambdas.faults.fail_next("counter", LambdaFault.EXCEPTION, count=3)
    lambdas.faults.clear()
    assert lambdas.faults.pending("counter") == 0
    with pytest.raises(ValueError):
        lambdas.faults.fail_next("counter", "explode")
