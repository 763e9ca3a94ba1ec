"""EmitEvent with botocore's Stubber: events are validated, then put on the bus."""

from __future__ import annotations

import json
from typing import Any

import pytest
from etl_common import EventValidationError, InputError, PutEventsError

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:RunPipeline:exec-1"
RUN = {
    "pipeline": "nightly_sales_snapshot",
    "execution_name": "exec-1",
    "execution_arn": EXECUTION_ARN,
    "parameters": {"business_date": "2024-03-01"},
    "changes": ["reporting.daily_sales_snapshot"],
    "stages": [],
}
STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def app(stubbed_handler):
    return stubbed_handler("emit_event", "events_client", "events")


def expect_put(app, detail_type: str, detail: dict[str, Any], response: dict[str, Any] | None = None) -> None:
    app.stubber.add_response(
        "put_events",
        response or {"FailedEntryCount": 0, "Entries": [{"EventId": "ev-1"}]},
        {
            "Entries": [
                {
                    "Source": "rsetl.pipeline",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": "rsetl-pipeline-events",
                }
            ]
        },
    )


def failed_request(caught: dict[str, Any], run: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "outcome": "FAILED",
        "input": {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": "2024-03-01"}},
        "execution_name": "exec-1",
        "execution_arn": EXECUTION_ARN,
        "run": run if run is not None else RUN,
        "caught": caught,
    }


def test_success_event(app, context) -> None:
    detail = {
        "pipeline": "nightly_sales_snapshot",
        "execution_name": "exec-1",
        "execution_arn": EXECUTION_ARN,
        "state": "SUCCEEDED",
        "parameters": {"business_date": "2024-03-01"},
        "changes": ["reporting.daily_sales_snapshot"],
    }
    expect_put(app, "Pipeline Succeeded", detail)
    result = app.lambda_handler({"outcome": "SUCCEEDED", "run": RUN, "execution_name": "exec-1"}, context)
    assert result == {"event_id": "ev-1", "detail": detail}


def test_step_failure_event_names_step_statement_and_database_error(app, context) -> None:
    cause = {
        "step": "build_daily_snapshot",
        "statement_id": STATEMENT_ID,
        "error_type": "FAILED",
        "error": "ERROR: division by zero",
    }
    detail = {
        "pipeline": "nightly_sales_snapshot",
        "execution_name": "exec-1",
        "execution_arn": EXECUTION_ARN,
        "state": "FAILED",
        "parameters": {"business_date": "2024-03-01"},
        **cause,
    }
    expect_put(app, "Pipeline Failed", detail)
    result = app.lambda_handler(
        failed_request({"Error": "rsetl.StatementFailed", "Cause": json.dumps(cause)}), context
    )
    assert result["cause"] == (
        f"pipeline 'nightly_sales_snapshot' failed step 'build_daily_snapshot' (statement {STATEMENT_ID}): "
        "FAILED: ERROR: division by zero"
    )


def test_task_error_inside_a_step_unwraps_the_lambda_error(app, context) -> None:
    lambda_error = json.dumps(
        {
            "errorMessage": "BatchExecuteStatement failed with ValidationException: bad",
            "errorType": "ValidationException",
        }
    )
    cause = {
        "step": "load_file",
        "statement_id": None,
        "error_type": "ValidationException",
        "error": lambda_error,
    }
    app.stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "ev-2"}]})
    result = app.lambda_handler(
        failed_request({"Error": "rsetl.StepTaskFailed", "Cause": json.dumps(cause)}), context
    )
    assert result["detail"]["error"] == "BatchExecuteStatement failed with ValidationException: bad"
    assert result["detail"]["step"] == "load_file"


def test_failure_before_any_step_reports_the_input(app, context) -> None:
    lambda_error = json.dumps({"errorMessage": "pipeline 'nope' has no spec file", "errorType": "SpecError"})
    app.stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "ev-3"}]})
    request = failed_request({"Error": "SpecError", "Cause": lambda_error}, run={})
    request["input"] = {"pipeline": "nope", "parameters": {"x": [1], "y": "ok"}}
    result = app.lambda_handler(request, context)
    detail = result["detail"]
    assert (detail["pipeline"], detail["step"], detail["statement_id"]) == ("nope", None, None)
    assert (detail["error_type"], detail["error"]) == ("SpecError", "pipeline 'nope' has no spec file")
    assert detail["parameters"] == {"y": "ok"}
    assert result["cause"].startswith("pipeline 'nope' failed before any step ran: SpecError")


def test_input_that_is_not_an_object_still_reports(app, context) -> None:
    app.stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "ev-4"}]})
    request = failed_request({"Error": "InputError", "Cause": "plain text cause"}, run={})
    request["input"] = ["not", "an", "object"]
    result = app.lambda_handler(request, context)
    assert (result["detail"]["pipeline"], result["detail"]["error"]) == ("unknown", "plain text cause")


def test_refused_entry_is_an_error(app, context) -> None:
    app.stubber.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}],
        },
    )
    with pytest.raises(
        PutEventsError, match="refused the Pipeline Succeeded event: ThrottlingException: slow down"
    ):
        app.lambda_handler({"outcome": "SUCCEEDED", "run": RUN, "execution_name": "exec-1"}, context)


def test_an_event_that_breaks_its_schema_is_never_put(app, context) -> None:
    run = {**RUN, "parameters": {"business_date": ["2024-03-01"]}}
    with pytest.raises(EventValidationError, match=r"detail\.parameters\.business_date"):
        app.lambda_handler({"outcome": "SUCCEEDED", "run": run, "execution_name": "exec-1"}, context)


def test_unknown_outcome_is_refused(app, context) -> None:
    with pytest.raises(InputError, match="outcome must be SUCCEEDED or FAILED, not 'MAYBE'"):
        app.lambda_handler({"outcome": "MAYBE", "execution_name": "exec-1"}, context)
