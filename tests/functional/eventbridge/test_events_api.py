"""The boto3 `events` client against the local `events` API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router, SigV4Verifier
from rsetl.eventbridge import EventBridge, EventsService

SFN_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:RefreshSalesViews"


@pytest.fixture
def bridge() -> Iterator[EventBridge]:
    bridge = EventBridge(workers=2)
    yield bridge
    bridge.close()


@pytest.fixture
def events(bridge: EventBridge) -> Iterator[Any]:
    router = Router(verifier=SigV4Verifier({"test": "test"}))
    router.register(EventsService(bridge))
    server = LocalServer(router, port=0).start()
    try:
        yield boto3.client(
            "events",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
    finally:
        server.stop()


def _error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return {key: str(value) for key, value in caught.value.response["Error"].items()}


def test_rules_targets_and_put_events_through_boto3(events: Any, bridge: EventBridge) -> None:
    received: list[Any] = []
    lock = threading.Lock()

    def target(payload: str) -> None:
        with lock:
            received.append(json.loads(payload))

    bridge.invoker.register(SFN_ARN, target)
    assert events.create_event_bus(Name="rsetl")["EventBusArn"].endswith(":event-bus/rsetl")
    pattern = {
        "source": ["rsetl.pipeline"],
        "detail-type": ["Pipeline Succeeded"],
        "detail": {"state": ["SUCCEEDED"]},
    }
    arn = events.put_rule(Name="on-success", EventBusName="rsetl", EventPattern=json.dumps(pattern))[
        "RuleArn"
    ]
    assert arn == "arn:aws:events:us-east-1:000000000000:rule/rsetl/on-success"
    events.put_targets(
        Rule="on-success",
        EventBusName="rsetl",
        Targets=[{"Id": "refresh", "Arn": SFN_ARN, "RetryPolicy": {"MaximumRetryAttempts": 3}}],
    )
    described = events.describe_rule(Name="on-success", EventBusName="rsetl")
    assert json.loads(described["EventPattern"]) == pattern
    assert described["State"] == "ENABLED"
    assert [
        t["Id"] for t in events.list_targets_by_rule(Rule="on-success", EventBusName="rsetl")["Targets"]
    ] == ["refresh"]
    result = events.put_events(
        Entries=[
            {
                "Source": "rsetl.pipeline",
                "DetailType": "Pipeline Succeeded",
                "Detail": json.dumps({"pipeline": "ingest_sales", "state": "SUCCEEDED"}),
                "EventBusName": "rsetl",
            },
            {"Source": "rsetl.pipeline", "DetailType": "Pipeline Succeeded", "Detail": "not json"},
        ]
    )
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][1] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert bridge.wait_idle(timeout=10)
    assert [event["detail"]["pipeline"] for event in received] == ["ingest_sales"]

    events.disable_rule(Name="on-success", EventBusName="rsetl")
    assert events.list_rules(EventBusName="rsetl")["Rules"][0]["State"] == "DISABLED"
    events.remove_targets(Rule="on-success", EventBusName="rsetl", Ids=["refresh"])
    events.delete_rule(Name="on-success", EventBusName="rsetl")
    assert events.list_rules(EventBusName="rsetl")["Rules"] == []
    assert [bus["Name"] for bus in events.list_event_buses()["EventBuses"]] == ["default", "rsetl"]
    assert events.describe_event_bus(Name="rsetl")["Arn"].endswith(":event-bus/rsetl")


def test_test_event_pattern_through_boto3(events: Any) -> None:
    event = {
        "id": "1",
        "account": "000000000000",
        "source": "aws.s3",
        "time": "2026-03-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::landing"],
        "detail-type": "Object Created",
        "detail": {"object": {"key": "sales/2026/03/01/a.csv"}},
    }
    pattern: dict[str, Any] = {
        "source": ["aws.s3"],
        "detail": {"object": {"key": [{"wildcard": "sales/*.csv"}]}},
    }
    assert (
        events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"] is True
    )
    pattern["detail"]["object"]["key"] = [{"prefix": "reference/"}]
    assert (
        events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]
        is False
    )
    error = _error(events.test_event_pattern, EventPattern='{"source": "aws.s3"}', Event=json.dumps(event))
    assert error["Code"] == "InvalidEventPatternException"
    assert error["Message"].startswith(
        'Event pattern is not valid. Reason: "source" must be an object or an array'
    )


def test_errors_have_aws_codes(events: Any) -> None:
    assert _error(events.describe_rule, Name="nope")["Code"] == "ResourceNotFoundException"
    assert _error(events.create_event_bus, Name="default")["Code"] == "ValidationException"
    error = _error(events.put_rule, Name="r", ScheduleExpression="rate(1 minutes)")
    assert error["Code"] == "ValidationException" and "singular" in error["Message"]
    events.create_event_bus(Name="dup")
    assert _error(events.create_event_bus, Name="dup")["Code"] == "ResourceAlreadyExistsException"
    # botocore-model validation happens in the shared wire layer
    assert _error(events.put_rule, Name="bad name!", EventPattern="{}")["Code"] == "ValidationException"
