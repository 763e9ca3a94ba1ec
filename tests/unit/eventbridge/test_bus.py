"""Buses, rules, targets, PutEvents, delivery (retries, DLQ, faults) and TestEventPattern."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.eventbridge import (
    EventBridge,
    InvalidEventPatternException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    TargetInvoker,
    ValidationException,
)
from rsetl.lambdas.asynchronous import AsyncInvocation

SFN_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:RefreshSalesViews"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:rsetl-dlq"
SUCCEEDED = {
    "source": ["rsetl.pipeline"],
    "detail-type": ["Pipeline Succeeded"],
    "detail": {"state": ["SUCCEEDED"], "pipeline": [{"prefix": "ingest_"}]},
}


class Recorder:
    """A target that records its inputs, thread-safely."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, payload: str) -> None:
        with self._lock:
            self.payloads.append(json.loads(payload))
            self.threads.add(threading.current_thread().name)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def bridge(clock: VirtualClock) -> Iterator[EventBridge]:
    bridge = EventBridge(clock=clock, invoker=TargetInvoker(), account_id="123456789012", workers=2)
    yield bridge
    bridge.close()


def _entry(state: str = "SUCCEEDED", pipeline: str = "ingest_sales", bus: str = "rsetl") -> dict[str, Any]:
    return {
        "Source": "rsetl.pipeline",
        "DetailType": "Pipeline Succeeded" if state == "SUCCEEDED" else "Pipeline Failed",
        "Detail": json.dumps({"pipeline": pipeline, "execution_name": "e-1", "state": state}),
        "EventBusName": bus,
    }


def _wire(bridge: EventBridge, recorder: Recorder, target: dict[str, Any] | None = None) -> None:
    bridge.create_event_bus("rsetl")
    bridge.put_rule("on-ingest", event_pattern=SUCCEEDED, event_bus_name="rsetl")
    bridge.put_targets("on-ingest", [{"Id": "refresh", "Arn": SFN_ARN, **(target or {})}], "rsetl")
    bridge.invoker.register(SFN_ARN, recorder)


def test_matching_events_reach_targets_on_worker_threads(bridge: EventBridge) -> None:
    recorder = Recorder()
    _wire(bridge, recorder)
    result = bridge.put_events([_entry(), _entry(state="FAILED"), _entry(pipeline="refresh_sales_views")])
    assert result["FailedEntryCount"] == 0
    assert all("EventId" in entry for entry in result["Entries"])
    assert bridge.wait_idle(timeout=10)
    assert len(recorder.payloads) == 1
    event = recorder.payloads[0]
    assert event["detail"] == {"pipeline": "ingest_sales", "execution_name": "e-1", "state": "SUCCEEDED"}
    assert event["source"] == "rsetl.pipeline" and event["account"] == "123456789012"
    assert event["time"] == "2026-03-01T00:00:00Z"
    assert threading.current_thread().name not in recorder.threads
    records = bridge.events()
    assert [record.matched_rules for record in records] == [(bridge.rule_arn("on-ingest", "rsetl"),), (), ()]
    assert [d.status for d in bridge.deliveries()] == ["SUCCEEDED"]


def test_disabled_rule_does_not_deliver(bridge: EventBridge) -> None:
    recorder = Recorder()
    _wire(bridge, recorder)
    bridge.set_rule_state("on-ingest", False, "rsetl")
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    assert recorder.payloads == []
    assert bridge.describe_rule("on-ingest", "rsetl").state == "DISABLED"


def test_input_transformer_applies_per_target(bridge: EventBridge) -> None:
    recorder = Recorder()
    transformer = {
        "InputTransformer": {
            "InputPathsMap": {"pipeline": "$.detail.pipeline"},
            "InputTemplate": '{"upstream": <pipeline>, "rule": "<aws.events.rule-name>"}',
        }
    }
    _wire(bridge, recorder, transformer)
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    assert recorder.payloads == [{"upstream": "ingest_sales", "rule": "on-ingest"}]


def test_failed_target_is_retried_until_it_succeeds(bridge: EventBridge, clock: VirtualClock) -> None:
    recorder = Recorder()
    _wire(bridge, recorder)
    bridge.faults.fail(SFN_ARN, times=3)
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert delivery.status == "SUCCEEDED"
    assert delivery.attempts == 4
    assert len(recorder.payloads) == 1
    # backoff 1 + 2 + 4 seconds, spent on the virtual clock
    assert clock.now() == datetime(2026, 3, 1, 0, 0, 7, tzinfo=UTC)


def test_exhausted_retries_go_to_the_dead_letter_queue(bridge: EventBridge) -> None:
    recorder = Recorder()
    target = {"RetryPolicy": {"MaximumRetryAttempts": 2}, "DeadLetterConfig": {"Arn": DLQ_ARN}}
    _wire(bridge, recorder, target)
    bridge.faults.fail(SFN_ARN, times=10, error_code="ExecutionLimitExceeded")
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert (delivery.status, delivery.attempts, delivery.dead_letter_arn) == ("DEAD_LETTERED", 3, DLQ_ARN)
    (message,) = bridge.dead_letters.messages(DLQ_ARN)
    assert message.json()["detail"]["pipeline"] == "ingest_sales"
    assert message.attributes == {
        "ERROR_CODE": "ExecutionLimitExceeded",
        "ERROR_MESSAGE": f"Injected failure of {SFN_ARN}.",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "2",
        "RULE_ARN": bridge.rule_arn("on-ingest", "rsetl"),
        "TARGET_ARN": SFN_ARN,
    }
    assert recorder.payloads == []


def test_event_age_limit_stops_retries(bridge: EventBridge) -> None:
    target = {"RetryPolicy": {"MaximumEventAgeInSeconds": 60}, "DeadLetterConfig": {"Arn": DLQ_ARN}}
    _wire(bridge, Recorder(), target)
    bridge.faults.fail(SFN_ARN, times=100)
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (message,) = bridge.dead_letters.messages(DLQ_ARN)
    assert message.attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    # 1+2+4+8+16+32 = 63 s > 60 s after six retries were waited for; five were made
    assert message.attributes["RETRY_ATTEMPTS"] == "5"


def test_missing_target_handler_fails_without_dlq(bridge: EventBridge) -> None:
    bridge.put_rule("r", event_pattern={"source": ["x.y"]})
    bridge.put_targets(
        "r",
        [
            {
                "Id": "t",
                "Arn": "arn:aws:lambda:us-east-1:1:function:nope",
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            }
        ],
    )
    bridge.put_events([{"Source": "x.y", "DetailType": "d", "Detail": "{}"}])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert delivery.status == "FAILED"
    assert delivery.errors[0].startswith("ResourceNotFoundException: No local target is wired")


def test_duplicate_and_delay_faults(bridge: EventBridge, clock: VirtualClock) -> None:
    recorder = Recorder()
    _wire(bridge, recorder)
    bridge.faults.duplicate(SFN_ARN)
    bridge.faults.delay(SFN_ARN, 30)
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    assert len(recorder.payloads) == 2
    assert recorder.payloads[0]["id"] == recorder.payloads[1]["id"]
    assert clock.now() == datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC)


def test_resolver_wires_families_of_arns(bridge: EventBridge) -> None:
    recorder = Recorder()
    bridge.invoker.add_resolver(lambda arn: recorder if ":stateMachine:" in arn else None)
    bridge.put_rule("r", event_pattern={"source": ["x.y"]})
    bridge.put_targets("r", [{"Id": "t", "Arn": SFN_ARN, "Input": '{"fixed": true}'}])
    bridge.put_events([{"Source": "x.y", "DetailType": "d", "Detail": "{}"}])
    assert bridge.wait_idle(timeout=10)
    assert recorder.payloads == [{"fixed": True}]


@pytest.mark.parametrize(
    ("entry", "code", "message"),
    [
        ({"DetailType": "d", "Detail": "{}"}, "InvalidArgument", "Parameter Source is not valid."),
        ({"Source": "s", "Detail": "{}"}, "InvalidArgument", "DetailType is a required argument."),
        ({"Source": "s", "DetailType": "d"}, "InvalidArgument", "Detail is a required argument."),
        ({"Source": "s", "DetailType": "d", "Detail": "[1]"}, "MalformedDetail", "Detail is malformed."),
        ({"Source": "s", "DetailType": "d", "Detail": "{"}, "MalformedDetail", "Detail is malformed."),
        (
            {"Source": "aws.s3", "DetailType": "d", "Detail": "{}"},
            "NotAuthorizedForSourceException",
            "source",
        ),
        (
            {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "nope"},
            "ResourceNotFoundException",
            "Event bus nope does not exist.",
        ),
    ],
)
def test_put_events_per_entry_errors(
    bridge: EventBridge, entry: dict[str, Any], code: str, message: str
) -> None:
    good = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    result = bridge.put_events([good, entry])
    assert result["FailedEntryCount"] == 1
    assert "EventId" in result["Entries"][0]
    assert result["Entries"][1]["ErrorCode"] == code
    assert message in result["Entries"][1]["ErrorMessage"]


def test_publish_allows_aws_sources(bridge: EventBridge) -> None:
    recorder = Recorder()
    bridge.invoker.register(SFN_ARN, recorder)
    bridge.put_rule(
        "s3", event_pattern={"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "sales/"}]}}}
    )
    bridge.put_targets("s3", [{"Id": "t", "Arn": SFN_ARN}])
    detail = {"bucket": {"name": "landing"}, "object": {"key": "sales/2026/03/01/a.csv", "etag": "e"}}
    result = bridge.publish(
        [
            {
                "Source": "aws.s3",
                "DetailType": "Object Created",
                "Detail": json.dumps(detail),
                "Resources": ["arn:b"],
            }
        ]
    )
    assert result["FailedEntryCount"] == 0
    assert bridge.wait_idle(timeout=10)
    assert recorder.payloads[0]["resources"] == ["arn:b"]


def test_request_limits(bridge: EventBridge) -> None:
    entry = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    with pytest.raises(ValidationException, match="less than or equal to 10"):
        bridge.put_events([entry] * 11)
    big = {**entry, "Detail": json.dumps({"x": "a" * (256 * 1024)})}
    with pytest.raises(ValidationException, match="over the limit"):
        bridge.put_events([big])


def test_the_entry_size_counts_utf8_bytes_of_source_detail_type_detail_resources_and_14_for_time(
    bridge: EventBridge,
) -> None:
    """Amazon EventBridge, "Calculating PutEvents event entry size" (256 KB):
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
    """
    fixed = {"Source": "s", "DetailType": "d", "Time": datetime(2026, 3, 1, tzinfo=UTC), "Resources": ["ab"]}
    overhead = 1 + 1 + 14 + 2 + len('{"x":""}')
    room = 256 * 1024 - overhead
    # "é" is two UTF-8 bytes: the limit is on bytes, not characters.
    detail = '{"x":"' + "é" * (room // 2) + "a" * (room % 2) + '"}'
    fits = {**fixed, "Detail": detail, "EventBusName": "b" * 200}
    assert bridge.put_events([fits])["FailedEntryCount"] == 1  # no bus "bbb...": the size check passed
    with pytest.raises(ValidationException, match="over the limit"):
        bridge.put_events([{**fits, "Detail": detail.replace('"}', 'a"}')}])


def test_rule_and_bus_management(bridge: EventBridge) -> None:
    bridge.create_event_bus("rsetl")
    with pytest.raises(ResourceAlreadyExistsException, match=r"Event bus rsetl already exists\."):
        bridge.create_event_bus("rsetl")
    assert [bus.name for bus in bridge.list_event_buses()] == ["default", "rsetl"]
    assert bridge.describe_event_bus("rsetl").arn == "arn:aws:events:us-east-1:123456789012:event-bus/rsetl"
    rule = bridge.put_rule("a-rule", event_pattern='{"source": ["x"]}', event_bus_name="rsetl")
    assert rule.arn == "arn:aws:events:us-east-1:123456789012:rule/rsetl/a-rule"
    assert rule.describe("123456789012")["EventPattern"] == '{"source": ["x"]}'
    bridge.put_rule("b-rule", schedule_expression="rate(5 minutes)")
    assert [r.name for r in bridge.list_rules(event_bus_name="rsetl")] == ["a-rule"]
    assert [r.name for r in bridge.list_rules(name_prefix="b")] == ["b-rule"]
    bridge.put_targets("a-rule", [{"Id": f"t{i}", "Arn": SFN_ARN} for i in range(5)], "rsetl")
    with pytest.raises(LimitExceededException):
        bridge.put_targets("a-rule", [{"Id": "t9", "Arn": SFN_ARN}], "rsetl")
    with pytest.raises(ValidationException, match="has targets"):
        bridge.delete_rule("a-rule", "rsetl")
    bridge.remove_targets("a-rule", [f"t{i}" for i in range(5)], "rsetl")
    assert bridge.list_targets_by_rule("a-rule", "rsetl") == []
    bridge.delete_rule("a-rule", "rsetl")
    with pytest.raises(ResourceNotFoundException, match=r"Rule a-rule does not exist on EventBus rsetl\."):
        bridge.describe_rule("a-rule", "rsetl")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValidationException, "EventPattern or ScheduleExpression must be specified"),
        (
            {"event_pattern": {"source": "x"}},
            InvalidEventPatternException,
            '"source" must be an object or an array',
        ),
        ({"schedule_expression": "rate(1 minutes)"}, ValidationException, "singular unit"),
        ({"schedule_expression": "cron(0 2 * * *)"}, ValidationException, "6 required, 5 provided"),
        (
            {"schedule_expression": "rate(5 minutes)", "event_bus_name": "custom"},
            ValidationException,
            "default",
        ),
        ({"event_pattern": {"a": ["b"]}, "event_bus_name": "nope"}, ResourceNotFoundException, "nope"),
        (
            {"event_pattern": {"a": ["b"]}, "state": "ON"},
            ValidationException,
            "Value 'ON' at 'state' failed to satisfy constraint: Member must satisfy enum value set",
        ),
    ],
)
def test_put_rule_errors(
    bridge: EventBridge, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    bridge.create_event_bus("custom")
    with pytest.raises(error, match=message):
        bridge.put_rule("r", **kwargs)


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("bad name", r"Member must satisfy regular expression pattern: \[\\.\\-_A-Za-z0-9\]\+"),
        ("r" * 65, "Member must have length less than or equal to 64"),
    ],
)
def test_in_process_rules_meet_the_wire_validator(bridge: EventBridge, name: str, constraint: str) -> None:
    """The template's wiring calls the bus directly; it gets the limits of botocore's events model
    (RuleName: 1-64 characters of `[\\.\\-_A-Za-z0-9]+`) and the message the wire answers with."""
    with pytest.raises(ValidationException, match=f"at 'name' failed to satisfy constraint: {constraint}"):
        bridge.put_rule(name, event_pattern={"a": ["b"]})


def test_put_targets_validation(bridge: EventBridge) -> None:
    bridge.put_rule("r", event_pattern={"a": ["b"]})
    with pytest.raises(ValidationException, match="between 0 and 185"):
        bridge.put_targets("r", [{"Id": "t", "Arn": SFN_ARN, "RetryPolicy": {"MaximumRetryAttempts": 200}}])
    with pytest.raises(ValidationException, match="Input is not valid JSON"):
        bridge.put_targets("r", [{"Id": "t", "Arn": SFN_ARN, "Input": "nope"}])
    with pytest.raises(ResourceNotFoundException, match="Rule nope does not exist"):
        bridge.put_targets("nope", [{"Id": "t", "Arn": SFN_ARN}])


def test_test_event_pattern(bridge: EventBridge) -> None:
    event = {
        "id": "1",
        "account": "123456789012",
        "source": "rsetl.pipeline",
        "time": "2026-03-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail-type": "Pipeline Succeeded",
        "detail": {"state": "SUCCEEDED", "pipeline": "ingest_stores"},
    }
    assert bridge.test_event_pattern(json.dumps(SUCCEEDED), json.dumps(event)) is True
    assert bridge.test_event_pattern(SUCCEEDED, {**event, "detail": {"state": "FAILED"}}) is False
    with pytest.raises(ValidationException, match="mandatory field\\(s\\) id, time"):
        bridge.test_event_pattern(SUCCEEDED, {k: v for k, v in event.items() if k not in ("id", "time")})
    with pytest.raises(ValidationException, match="not JSON"):
        bridge.test_event_pattern(SUCCEEDED, "{")
    with pytest.raises(InvalidEventPatternException, match="Empty arrays are not allowed"):
        bridge.test_event_pattern({"source": []}, event)


def test_a_delivery_iam_denies_goes_to_the_dead_letter_queue_without_retries(bridge: EventBridge) -> None:
    """ "For errors that result from missing permissions to a target ... no retry attempts will
    happen"; the event goes to the target's DLQ with ERROR_CODE NO_PERMISSIONS (Amazon EventBridge
    User Guide, "Using dead-letter queues to process undelivered events",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
    recorder = Recorder()
    role = "arn:aws:iam::123456789012:role/rule-role"
    _wire(bridge, recorder, {"RoleArn": role, "DeadLetterConfig": {"Arn": DLQ_ARN}})
    seen: list[str | None] = []

    def deny(delivery: Any) -> tuple[str, str]:
        seen.append(delivery.role_arn)
        return ("NO_PERMISSIONS", "not authorized to perform: states:StartExecution")

    bridge.dispatcher.authorizer = deny
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert (delivery.status, delivery.attempts) == ("DEAD_LETTERED", 1)
    (message,) = bridge.dead_letters.messages(DLQ_ARN)
    assert message.attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert message.attributes["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in message.attributes
    assert seen == [role]
    assert recorder.payloads == []


def test_an_event_the_dead_letter_queue_refuses_is_dropped(bridge: EventBridge) -> None:
    """Without permission to send to the DLQ, EventBridge drops the event
    (InvocationsFailedToBeSentToDLQ; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
    recorder = Recorder()
    _wire(bridge, recorder, {"DeadLetterConfig": {"Arn": DLQ_ARN}})
    bridge.dispatcher.authorizer = lambda delivery: ("NO_PERMISSIONS", "denied")
    bridge.dispatcher.dead_letter_authorizer = lambda delivery: "no sqs:SendMessage"
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert delivery.status == "FAILED"
    assert delivery.errors == ["NO_PERMISSIONS: denied", "DLQ: no sqs:SendMessage"]
    assert bridge.dead_letters.messages(DLQ_ARN) == []


def test_a_target_invoked_asynchronously_is_not_shown_succeeded_until_it_is(bridge: EventBridge) -> None:
    """EventBridge's part ends when Lambda queues the event; the record then follows the invocation.

    Lambda asynchronous invocation: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
    """
    invocation = AsyncInvocation("req-1", SFN_ARN)
    _wire(bridge, Recorder())
    bridge.invoker.register(SFN_ARN, lambda payload: invocation)
    bridge.put_events([_entry()])
    assert bridge.wait_idle(timeout=10)
    (delivery,) = bridge.deliveries()
    assert delivery.status == "INVOKED"

    invocation.attempts, invocation.errors = 3, ["RuntimeError: Redshift down"] * 3
    invocation.finish("DROPPED")

    assert delivery.status == "TARGET_FAILED"
    errors = ["RuntimeError: Redshift down"] * 3
    assert delivery.invocation == {"status": "DROPPED", "attempts": 3, "errors": errors, "destination": None}
