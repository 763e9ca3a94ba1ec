"""Lambda's asynchronous invocation: retries on the clock, event age, OnFailure records, discards.

Lambda asynchronous invocation ("How Lambda handles errors and retries with asynchronous invocation"):
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
Capturing records of Lambda asynchronous invocations:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
Invoke ("For asynchronous invocations, the maximum payload size is 1 MB"):
https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.lambdas import LambdaServiceError
from rsetl.lambdas.asynchronous import AsyncInvocation, AsyncInvoker, EventInvokeConfig, PayloadTooLarge
from rsetl.lambdas.runtime import InvokeResult

ARN = "arn:aws:lambda:us-east-1:000000000000:function:quarantine"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:failures"
START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)


class ScriptedFunction:
    """Fails the first `failures` invocations (a function error), then succeeds; notes the times."""

    def __init__(self, clock: VirtualClock, failures: int, service_errors: int = 0) -> None:
        self.clock, self.failures, self.service_errors = clock, failures, service_errors
        self.times: list[float] = []

    def invoke(self, function_name_or_arn: str, payload: Any) -> InvokeResult:
        self.times.append((self.clock.now() - START).total_seconds())
        if self.service_errors:
            self.service_errors -= 1
            raise LambdaServiceError("ServiceException", "Lambda is down")
        if self.failures:
            self.failures -= 1
            return InvokeResult(
                {"errorType": "RuntimeError", "errorMessage": "Redshift down"}, "Unhandled", "r"
            )
        return InvokeResult({"ok": True}, None, "r")


def _run(
    failures: int, config: EventInvokeConfig | None = None
) -> tuple[AsyncInvocation, ScriptedFunction, list[tuple[str, str]]]:
    clock = VirtualClock(START)
    function = ScriptedFunction(clock, failures)
    sent: list[tuple[str, str]] = []
    invoker = AsyncInvoker(function, clock, lambda arn, body: sent.append((arn, body)))
    if config is not None:
        invoker.configure(ARN, config)
    invocation = invoker.invoke(ARN, json.dumps({"detail-type": "Pipeline Failed"}))
    invoker.close(wait=True)
    return invocation, function, sent


def test_a_function_error_is_retried_twice_a_minute_then_two_minutes_apart_then_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        invocation, function, sent = _run(failures=5)

    assert function.times == [0.0, 60.0, 180.0]
    assert (invocation.status, invocation.attempts, sent) == ("DROPPED", 3, [])
    assert "dropped after 3 attempt(s) (RetriesExhausted): RuntimeError: Redshift down" in caplog.text


def test_after_the_retries_the_invocation_record_goes_to_the_on_failure_destination() -> None:
    invocation, _, sent = _run(failures=3, config=EventInvokeConfig(on_failure=QUEUE))

    ((arn, body),) = sent
    record = json.loads(body)
    assert (arn, invocation.status, invocation.destination) == (QUEUE, "SENT_TO_DESTINATION", QUEUE)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": invocation.request_id,
        "functionArn": f"{ARN}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"detail-type": "Pipeline Failed"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "Redshift down"


def test_maximum_retry_attempts_of_the_event_invoke_config_is_honoured() -> None:
    invocation, function, _ = _run(failures=5, config=EventInvokeConfig(maximum_retry_attempts=0))

    assert (invocation.status, function.times) == ("DROPPED", [0.0])


def test_an_event_older_than_maximum_event_age_is_not_retried_again() -> None:
    config = EventInvokeConfig(maximum_event_age_seconds=120, on_failure=QUEUE)

    invocation, function, sent = _run(failures=5, config=config)

    assert function.times == [0.0, 60.0]
    assert json.loads(sent[0][1])["requestContext"]["condition"] == "EventAgeExceeded"
    assert invocation.attempts == 2


def test_a_retry_that_succeeds_ends_the_invocation_as_succeeded() -> None:
    invocation, function, sent = _run(failures=1, config=EventInvokeConfig(on_failure=QUEUE))

    assert (invocation.status, function.times, sent) == ("SUCCEEDED", [0.0, 60.0], [])


def test_a_payload_over_one_megabyte_is_refused_at_once() -> None:
    clock = VirtualClock(START)
    invoker = AsyncInvoker(ScriptedFunction(clock, 0), clock, lambda arn, body: None)

    with pytest.raises(PayloadTooLarge) as refused:
        invoker.invoke(ARN, json.dumps({"blob": "x" * (1024 * 1024)}))
    assert refused.value.code == "RequestEntityTooLargeException"
    invoker.close()


def test_event_invoke_config_reads_the_cloudformation_properties() -> None:
    config = EventInvokeConfig.from_properties(
        {
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 600,
            "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        }
    )
    assert config == EventInvokeConfig(1, 600, QUEUE, None)
