"""RequestRefresh with botocore's Stubber: every success of one window joins that window's execution.

StartExecution (AWS Step Functions API Reference,
https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): the same name
and input as an open execution succeed without starting another; a closed execution of that name answers
ExecutionAlreadyExists whatever the input.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from etl_common import InputError

REPO = Path(__file__).resolve().parents[3]
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:RefreshViews"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def event() -> dict:
    return json.loads((REPO / "events" / "pipeline-succeeded-ingest-sales.json").read_text())


@pytest.fixture
def app(load_handler, stubbed, monkeypatch):
    module = load_handler("request_refresh")
    client, module.sfn_stub = stubbed("stepfunctions")
    monkeypatch.setattr(module, "stepfunctions", lambda: client)
    monkeypatch.setenv("REFRESH_STATE_MACHINE_ARN", MACHINE)
    monkeypatch.setenv("REFRESH_WINDOW_SECONDS", "60")
    return module


def expect_start(app, end: str, *, closed: bool = False) -> None:
    params = {
        "stateMachineArn": MACHINE,
        "name": "refresh-sales-views-" + end.replace("-", "").replace(":", ""),
        "input": json.dumps({"window_end": end}),
    }
    if closed:
        app.sfn_stub.add_client_error("start_execution", "ExecutionAlreadyExists", expected_params=params)
    else:
        response = {
            "executionArn": f"{MACHINE}:{params['name']}",
            "startDate": datetime(2024, 3, 2, tzinfo=UTC),
        }
        app.sfn_stub.add_response("start_execution", response, params)


def test_window_end_is_the_next_multiple_of_the_window(app) -> None:
    at = datetime(2024, 3, 2, 1, 5, 0, tzinfo=UTC)
    assert app.window_end(at, 60) == datetime(2024, 3, 2, 1, 6, tzinfo=UTC)
    assert app.window_end(at.replace(second=59), 60) == datetime(2024, 3, 2, 1, 6, tzinfo=UTC)
    assert app.window_end(at, 300) == datetime(2024, 3, 2, 1, 10, tzinfo=UTC)
    with pytest.raises(InputError, match="positive"):
        app.window_end(at, 0)


def test_two_successes_of_one_window_start_the_same_execution(app, event, context) -> None:
    event["time"] = "2024-03-02T01:05:40Z"
    expect_start(app, "2024-03-02T01:06:00Z")
    expect_start(app, "2024-03-02T01:06:00Z")
    with app.sfn_stub:
        first = app.lambda_handler(event, context)
        second = app.lambda_handler({**event, "time": "2024-03-02T01:05:59Z"}, context)
    assert first == second
    assert first["window_end"] == "2024-03-02T01:06:00Z"


def test_a_closed_window_hands_the_request_to_the_next_one(app, event, context) -> None:
    event["time"] = "2024-03-02T01:05:40Z"
    expect_start(app, "2024-03-02T01:06:00Z", closed=True)
    expect_start(app, "2024-03-02T01:07:00Z")
    with app.sfn_stub:
        result = app.lambda_handler(event, context)
    assert result["window_end"] == "2024-03-02T01:07:00Z"


def test_an_event_without_an_rfc3339_time_is_refused(app, event, context) -> None:
    event["time"] = "yesterday"
    with pytest.raises(InputError, match="RFC 3339"):
        app.lambda_handler(event, context)
