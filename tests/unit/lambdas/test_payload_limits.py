"""Lambda's synchronous payload quota: 6 MB for the request and for the response.

Invoke ("For synchronous invocations, the maximum payload size is 6 MB"):
https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
Lambda quotas, "Invocation payload (request and response)":
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rsetl.lambdas import FunctionConfig, LambdaRuntime, LambdaServiceError


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LambdaRuntime]:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        "def lambda_handler(event, context):\n    return 'x' * event['size']\n"
    )
    config = FunctionConfig(
        name="sizer", arn="arn:aws:lambda:us-east-1:000000000000:function:sizer", code_dir=tmp_path / "fn"
    )
    with LambdaRuntime([config], work_dir=tmp_path / "work") as rt:
        yield rt


def test_a_request_over_6_mb_is_refused_before_the_handler_runs(runtime: LambdaRuntime) -> None:
    with pytest.raises(LambdaServiceError, match="Request must be smaller than 6291456 bytes") as refused:
        runtime.invoke("sizer", {"size": 1, "pad": "p" * (6 * 1024 * 1024)})
    assert refused.value.code == "RequestEntityTooLargeException"
    assert runtime.invocations["sizer"] == 0


def test_a_response_over_the_limit_is_a_function_error(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("sizer", {"size": 6291556})

    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }
    assert runtime.invoke("sizer", {"size": 6291556 - 2}).function_error is None
