"""CancelStatement with botocore's Stubber."""

from __future__ import annotations

import json

import pytest

STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
STATEMENT = {"step": "load_file", "id": STATEMENT_ID, "status": "STARTED", "timeout_seconds": 60}
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def app(stubbed_handler):
    return stubbed_handler("cancel_statement", "redshift_data", "redshift-data")


def test_cancel_reports_a_timeout_cause(app, context) -> None:
    app.stubber.add_response("cancel_statement", {"Status": True}, {"Id": STATEMENT_ID})
    result = app.lambda_handler({"statement": STATEMENT, "execution_name": "exec-1"}, context)
    assert result["cancelled"] is True
    cause = json.loads(result["cause"])
    assert cause == {
        "step": "load_file",
        "statement_id": STATEMENT_ID,
        "error_type": "TIMED_OUT",
        "error": "statement ran longer than the step's time budget of 60 s and was cancelled",
    }


def test_a_statement_that_already_ended_is_not_an_error(app, context) -> None:
    app.stubber.add_client_error(
        "cancel_statement", service_error_code="ValidationException", service_message="already FINISHED"
    )
    result = app.lambda_handler({"statement": STATEMENT, "execution_name": "exec-1"}, context)
    assert result["cancelled"] is False
    assert "already ending" in json.loads(result["cause"])["error"]


def test_throttled_cancel_is_raised_for_a_retry(app, context) -> None:
    app.stubber.add_client_error("cancel_statement", service_error_code="ThrottlingException")
    with pytest.raises(Exception) as caught:
        app.lambda_handler({"statement": STATEMENT, "execution_name": "exec-1"}, context)
    assert type(caught.value).__name__ == "ThrottlingException"


def test_a_failed_run_cancels_every_statement_of_its_execution_still_running(app, context) -> None:
    """A failed step ends its stage's Map; the other steps' statements would run on in Redshift.

    Redshift Data API ListStatements (StatementName matches by prefix; RoleLevel):
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ListStatements.html
    """
    listed = [
        {"Id": "a-running", "Status": "STARTED", "StatementName": "exec-1.refresh_a"},
        {"Id": "b-queued", "Status": "SUBMITTED", "StatementName": "exec-1.refresh_b"},
        {"Id": "c-failed", "Status": "FAILED", "StatementName": "exec-1.refresh_c"},
        {"Id": "d-ending", "Status": "PICKED", "StatementName": "exec-1.refresh_d"},
    ]
    request = {"StatementName": "exec-1.", "Status": "ALL", "RoleLevel": True}
    app.stubber.add_response("list_statements", {"Statements": listed[:2], "NextToken": "t"}, request)
    app.stubber.add_response("list_statements", {"Statements": listed[2:]}, {**request, "NextToken": "t"})
    app.stubber.add_response("cancel_statement", {"Status": True}, {"Id": "a-running"})
    app.stubber.add_response("cancel_statement", {"Status": True}, {"Id": "b-queued"})
    app.stubber.add_client_error(
        "cancel_statement", service_error_code="ValidationException", service_message="already FINISHED"
    )

    result = app.lambda_handler({"running_of_execution": "exec-1", "execution_name": "exec-1"}, context)

    assert result == {"cancelled": ["a-running", "b-queued"]}
    app.stubber.assert_no_pending_responses()
