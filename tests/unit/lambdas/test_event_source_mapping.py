"""Lambda's SQS event-source mapping over the local SQS (moto) on a virtual clock.

"Lambda parameters for Amazon SQS event source mappings":
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
GetEventSourceMapping, MaximumBatchingWindowInSeconds (0-300; at least 1 when BatchSize > 10):
https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
"Creating and configuring an Amazon SQS event source mapping" (function timeout <= visibility timeout):
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
"Handling errors for an SQS event source in Lambda", Implementing partial batch responses:
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
"Lambda event source mappings", Batching behavior (window, batch size, 6 MB):
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html
Amazon SQS dead-letter queues (maxReceiveCount):
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.lambdas.event_source_mapping import InvalidParameterValue, NotEmulated, SqsMapping, SqsPoller
from rsetl.lambdas.runtime import InvokeResult
from rsetl.sqs import SqsService

START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:start-batch"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:ingest"
DLQ = "arn:aws:sqs:us-east-1:000000000000:ingest-dlq"
VISIBILITY = 60


class Function:
    """Records each batch it gets (message bodies and the clock) and answers with `respond(bodies)`."""

    def __init__(self, clock: VirtualClock, respond: Any = None) -> None:
        self.clock = clock
        self.respond = respond or (lambda records: None)
        self.batches: list[list[str]] = []
        self.times: list[float] = []

    def invoke(self, function_name_or_arn: str, payload: Any) -> InvokeResult:
        assert function_name_or_arn == FUNCTION
        records = payload["Records"]
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == QUEUE for r in records)
        self.batches.append([r["body"] for r in records])
        self.times.append((self.clock.now() - START).total_seconds())
        answer = self.respond(records)
        if isinstance(answer, InvokeResult):
            return answer
        return InvokeResult(answer)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def sqs(clock: VirtualClock) -> Iterator[SqsService]:
    service = SqsService(clock=clock)
    service.create_queue("ingest-dlq", {})
    redrive = {"deadLetterTargetArn": DLQ, "maxReceiveCount": 3}
    service.create_queue("ingest", {"VisibilityTimeout": VISIBILITY, "RedrivePolicy": redrive})
    yield service


def mapping(**props: Any) -> SqsMapping:
    return SqsMapping.from_properties(
        "m-1",
        {"EventSourceArn": QUEUE, **props},
        function_arn=FUNCTION,
        function_timeout_seconds=30,
        visibility_timeout_seconds=VISIBILITY,
        fifo=False,
    )


def send(sqs: SqsService, count: int) -> list[str]:
    bodies = [json.dumps({"n": n}) for n in range(count)]
    for body in bodies:
        sqs.send_message(QUEUE, body)
    return bodies


def drain(poller: SqsPoller) -> None:
    while poller.poll_once() is not None:
        pass


@pytest.mark.parametrize(
    ("props", "timeout", "message"),
    [
        ({"BatchSize": 11}, 30, "must be greater than 0 if maximum batch size is greater than 10"),
        ({"BatchSize": 10_001, "MaximumBatchingWindowInSeconds": 5}, 30, "1 to 10000"),
        ({"BatchSize": 0}, 30, "1 to 10000"),
        ({"MaximumBatchingWindowInSeconds": 301}, 30, "0 to 300"),
        ({"FunctionResponseTypes": ["ReportItemFailures"]}, 30, "only ReportBatchItemFailures"),
        ({}, 61, "Queue visibility timeout: 60 seconds is less than Function timeout: 61 seconds"),
        # AWS::Lambda::EventSourceMapping ScalingConfig, MaximumConcurrency: minimum 2, maximum 1000
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-eventsourcemapping-scalingconfig.html).
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, 30, "MaximumConcurrency 1 is out of range: 2 to 1000"),
        ({"ScalingConfig": {"MaximumConcurrency": 1001}}, 30, "MaximumConcurrency 1001 is out of range"),
    ],
)
def test_create_refuses_what_lambda_refuses(props: dict[str, Any], timeout: int, message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message) as raised:
        SqsMapping.from_properties(
            "m-1", {"EventSourceArn": QUEUE, **props}, function_arn=FUNCTION,
            function_timeout_seconds=timeout, visibility_timeout_seconds=VISIBILITY, fifo=False,
        )  # fmt: skip
    assert raised.value.code == "InvalidParameterValueException"


def test_a_maximum_concurrency_in_range_is_taken() -> None:
    assert [mapping(ScalingConfig={"MaximumConcurrency": n}).enabled for n in (2, 1000)] == [True, True]
    assert mapping(ScalingConfig={}).enabled, "an empty ScalingConfig removes the setting"


def test_filter_criteria_are_refused_not_ignored() -> None:
    # "Control which events Lambda sends to your function" (event filtering,
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html): Lambda drops the
    # messages no filter matches; ignoring FilterCriteria would hand the function those messages.
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["sale"]}})}]}
    with pytest.raises(NotEmulated, match="m-1: FilterCriteria is not emulated"):
        mapping(FilterCriteria=criteria)


def test_fifo_queues_take_ten_and_no_window() -> None:
    for props in (
        {"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1},
        {"MaximumBatchingWindowInSeconds": 1},
    ):
        with pytest.raises(InvalidParameterValue):
            SqsMapping.from_properties(
                "m-1", {"EventSourceArn": QUEUE, **props}, function_arn=FUNCTION,
                function_timeout_seconds=30, visibility_timeout_seconds=VISIBILITY, fifo=True,
            )  # fmt: skip


def test_defaults_are_lambdas() -> None:
    default = mapping()
    assert (default.batch_size, default.batching_window_seconds, default.report_batch_item_failures) == (
        10,
        0,
        False,
    )


def test_without_a_window_each_invocation_gets_what_one_receive_finds(
    clock: VirtualClock, sqs: SqsService
) -> None:
    send(sqs, 25)
    function = Function(clock)
    drain(SqsPoller(mapping(), sqs, function, clock, "us-east-1"))
    assert [len(b) for b in function.batches] == [10, 10, 5]
    assert sqs.messages_left(QUEUE) == 0, "a successful batch is deleted"


def test_a_window_gathers_a_burst_into_one_batch_up_to_the_batch_size(
    clock: VirtualClock, sqs: SqsService
) -> None:
    bodies = send(sqs, 250)
    function = Function(clock)
    drain(
        SqsPoller(
            mapping(BatchSize=100, MaximumBatchingWindowInSeconds=20), sqs, function, clock, "us-east-1"
        )
    )
    assert [len(b) for b in function.batches] == [100, 100, 50]
    assert sorted(body for batch in function.batches for body in batch) == sorted(bodies)
    # Full batches go at once; the last one waits out its window for more.
    assert function.times[:2] == [0.0, 0.0] and function.times[2] >= 20.0


def test_a_lone_message_waits_out_the_window(clock: VirtualClock, sqs: SqsService) -> None:
    send(sqs, 1)
    function = Function(clock)
    drain(
        SqsPoller(mapping(BatchSize=500, MaximumBatchingWindowInSeconds=3), sqs, function, clock, "us-east-1")
    )
    assert len(function.batches) == 1 and 3.0 <= function.times[0] < 4.0


def test_partial_batch_response_returns_only_the_failed_message(clock: VirtualClock, sqs: SqsService) -> None:
    bodies = send(sqs, 10)

    def fail_third(records: list[dict[str, Any]]) -> dict[str, Any]:
        failed = [r for r in records if r["body"] == bodies[2]]
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}

    function = Function(clock, fail_third)
    poller = SqsPoller(
        mapping(FunctionResponseTypes=["ReportBatchItemFailures"]), sqs, function, clock, "us-east-1"
    )
    outcome = poller.poll_once()
    assert outcome is not None and len(outcome.deleted) == 9 and len(outcome.returned) == 1
    assert poller.poll_once() is None, "the returned message stays invisible for the visibility timeout"
    clock.advance(VISIBILITY + 1)
    assert poller.poll_once() is not None
    assert function.batches[1] == [bodies[2]]


def test_without_report_batch_item_failures_a_failure_list_is_ignored(
    clock: VirtualClock, sqs: SqsService
) -> None:
    send(sqs, 3)
    function = Function(
        clock, lambda records: {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    )
    outcome = SqsPoller(mapping(), sqs, function, clock, "us-east-1").poll_once()
    assert outcome is not None and len(outcome.deleted) == 3


@pytest.mark.parametrize("identifier", ["", None, "not-a-message-of-the-batch"])
def test_an_invalid_item_identifier_fails_the_whole_batch(
    clock: VirtualClock, sqs: SqsService, identifier: str | None
) -> None:
    send(sqs, 4)
    function = Function(clock, lambda records: {"batchItemFailures": [{"itemIdentifier": identifier}]})
    poller = SqsPoller(
        mapping(FunctionResponseTypes=["ReportBatchItemFailures"]), sqs, function, clock, "us-east-1"
    )
    outcome = poller.poll_once()
    assert outcome is not None and outcome.deleted == [] and len(outcome.returned) == 4


def test_a_function_error_returns_the_batch_and_redrive_moves_it_to_the_dlq(
    clock: VirtualClock, sqs: SqsService
) -> None:
    send(sqs, 2)
    function = Function(
        clock, lambda records: InvokeResult({"errorType": "Boom"}, function_error="Unhandled")
    )
    poller = SqsPoller(mapping(), sqs, function, clock, "us-east-1")
    for _ in range(3):
        assert poller.poll_once() is not None
        clock.advance(VISIBILITY + 1)
    assert poller.poll_once() is None, "received maxReceiveCount (3) times: moved to the dead-letter queue"
    assert len(sqs.visible_messages(DLQ)) == 2
    assert len(function.batches) == 3


def test_enabled_reads_a_cloudformation_boolean_and_its_strings() -> None:
    # AWS::Lambda::EventSourceMapping `Enabled` is a Boolean; a parameter or `!If` hands it over as a
    # string (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html).
    assert [mapping(Enabled=value).enabled for value in (True, False, "true", "false", "False")] == [
        True,
        False,
        True,
        False,
        False,
    ]
    with pytest.raises(InvalidParameterValue, match="Enabled must be true or false"):
        mapping(Enabled="no")


def test_the_event_has_the_shape_of_lambdas_sqs_event(clock: VirtualClock, sqs: SqsService) -> None:
    # "Using Lambda with Amazon SQS", Example standard queue message event
    # (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): message attributes in camel case
    # with empty list values, md5OfMessageAttributes (null without attributes), the system attributes
    # as strings, eventSource, eventSourceARN and awsRegion.
    sqs.send_message(QUEUE, "with", {"file": "a.csv"})
    sqs._backend.send_message(
        "ingest", "binary", message_attributes={"blob": {"DataType": "Binary", "BinaryValue": b"1100"}}
    )
    sqs.send_message(QUEUE, "without")
    seen: list[dict[str, Any]] = []
    poller = SqsPoller(mapping(), sqs, Function(clock, seen.extend), clock, "us-east-1")
    drain(poller)
    with_attributes, binary, without = seen
    assert with_attributes["messageAttributes"] == {
        "file": {"stringValue": "a.csv", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert binary["messageAttributes"]["blob"] == {
        "binaryValue": "MTEwMA==",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert len(with_attributes["md5OfMessageAttributes"]) == 32
    assert without["messageAttributes"] == {} and without["md5OfMessageAttributes"] is None
    assert without["md5OfBody"] == hashlib.md5(b"without").hexdigest()
    assert set(without["attributes"]) == {
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"
    }  # fmt: skip
    assert without["attributes"]["ApproximateReceiveCount"] == "1"
    assert without["attributes"]["SentTimestamp"] == str(int(START.timestamp() * 1000))
    assert (without["eventSource"], without["eventSourceARN"], without["awsRegion"]) == (
        "aws:sqs", QUEUE, "us-east-1"
    )  # fmt: skip
    assert set(without) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
