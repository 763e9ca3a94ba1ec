"""CheckStatement with botocore's Stubber: long polls, statuses, time budget, data checks and result pages."""

from __future__ import annotations

import json
from typing import Any

import pytest

STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
SUBMITTED_AT = "2024-03-02T01:00:00Z"


@pytest.fixture
def app(stubbed_handler):
    return stubbed_handler("check_statement", "redshift_data", "redshift-data")


def statement(**extra: Any) -> dict[str, Any]:
    return {
        "step": "load_file",
        "id": STATEMENT_ID,
        "status": "STARTED",
        "submitted_at": SUBMITTED_AT,
        "timeout_seconds": 3600,
        **extra,
    }


def check(app, context, now: str, **extra: Any) -> dict[str, Any]:
    return app.lambda_handler(
        {"statement": statement(**extra), "now": now, "execution_name": "exec-1"}, context
    )


def long_poll(app, status: str, wait: int = 30, **extra: Any) -> None:
    app.stubber.add_response(
        "describe_statement",
        {"Id": STATEMENT_ID, "Status": status, **extra},
        {"Id": STATEMENT_ID, "WaitTimeSeconds": wait},
    )


def test_running_statement_is_long_polled_for_the_window_then_waits(app, context) -> None:
    for _ in range(4):
        long_poll(app, "STARTED")
    result = check(app, context, now="2024-03-02T01:10:00Z")
    assert result["status"] == "STARTED"
    assert result["elapsed_seconds"] == 600
    assert result["wait_seconds"] == 30
    assert result["timed_out"] is False
    assert result["cause"] is None


def test_polling_stops_as_soon_as_the_statement_ends(app, context) -> None:
    long_poll(app, "STARTED")
    long_poll(app, "FINISHED", ResultRows=5)
    result = check(app, context, now="2024-03-02T01:01:00Z")
    assert result["status"] == "FINISHED"
    assert result["result_rows"] == 5


@pytest.mark.parametrize("status", ["SUBMITTED", "PICKED", "STARTED"])
def test_every_running_status_keeps_polling(app, context, status: str) -> None:
    for _ in range(4):
        long_poll(app, status)
    assert check(app, context, now="2024-03-02T01:00:40Z")["status"] == status


@pytest.mark.parametrize(
    ("status", "error_type"),
    [("FAILED", "FAILED"), ("ABORTED", "ABORTED"), ("ALL", "UNKNOWN_STATUS"), ("", "UNKNOWN_STATUS")],
)
def test_ending_statuses_stop_with_a_cause(app, context, status: str, error_type: str) -> None:
    failure: dict[str, Any] = {"Error": "ERROR: boom"} if status == "FAILED" else {}
    long_poll(app, status, **failure)
    result = check(app, context, now="2024-03-02T01:00:40Z")
    assert json.loads(result["cause"])["error_type"] == error_type


def test_long_polls_stay_within_the_time_budget(app, context) -> None:
    long_poll(app, "STARTED", wait=30)
    long_poll(app, "STARTED", wait=15)
    result = check(app, context, now="2024-03-02T01:59:15Z")
    assert result["timed_out"] is False
    assert result["wait_seconds"] == 45


def test_past_the_budget_one_plain_describe_then_timed_out(app, context) -> None:
    app.stubber.add_response(
        "describe_statement", {"Id": STATEMENT_ID, "Status": "STARTED"}, {"Id": STATEMENT_ID}
    )
    result = check(app, context, now="2024-03-02T02:00:01Z")
    assert result["timed_out"] is True


def test_a_statement_that_just_finished_at_the_deadline_is_not_timed_out(app, context) -> None:
    app.stubber.add_response(
        "describe_statement", {"Id": STATEMENT_ID, "Status": "FINISHED"}, {"Id": STATEMENT_ID}
    )
    result = check(app, context, now="2024-03-02T02:00:01Z")
    assert (result["status"], result["timed_out"]) == ("FINISHED", False)


def test_long_polls_stop_before_the_lambda_times_out(app, context) -> None:
    context.remaining_ms = 75_000
    long_poll(app, "STARTED")
    long_poll(app, "STARTED")
    assert check(app, context, now="2024-03-02T01:10:00Z")["status"] == "STARTED"


def test_too_many_waiting_requests_falls_back_to_a_plain_describe(app, context) -> None:
    app.stubber.add_client_error(
        "describe_statement",
        service_error_code="ActiveWaitingRequestsExceededException",
        expected_params={"Id": STATEMENT_ID, "WaitTimeSeconds": 30},
    )
    app.stubber.add_response(
        "describe_statement", {"Id": STATEMENT_ID, "Status": "FINISHED"}, {"Id": STATEMENT_ID}
    )
    assert check(app, context, now="2024-03-02T01:00:40Z")["status"] == "FINISHED"


@pytest.mark.parametrize("code", ["ThrottlingException", "ResourceNotFoundException", "ValidationException"])
def test_describe_errors_surface_under_their_names(app, context, code: str) -> None:
    app.stubber.add_client_error("describe_statement", service_error_code=code, service_message="nope")
    with pytest.raises(Exception) as caught:
        check(app, context, now="2024-03-02T01:00:40Z")
    assert type(caught.value).__name__ == code


def result_page(rows: list[list[Any]], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "Records": [
            [{"stringValue": str(v)} if v is not None else {"isNull": True} for v in row] for row in rows
        ],
        "ColumnMetadata": [{"name": "store_id"}, {"name": "net_amount"}],
        "TotalNumRows": 3,
    }
    if token:
        page["NextToken"] = token
    return page


def test_data_check_reads_every_result_page_and_fails_with_the_rows(app, context) -> None:
    long_poll(app, "FINISHED", HasResultSet=True, ResultRows=3)
    app.stubber.add_response(
        "get_statement_result", result_page([["S001", -5]], "page-2"), {"Id": STATEMENT_ID}
    )
    app.stubber.add_response(
        "get_statement_result",
        result_page([["S002", -1], ["S003", None]]),
        {"Id": STATEMENT_ID, "NextToken": "page-2"},
    )
    result = check(app, context, now="2024-03-02T01:00:40Z", expect="no_rows")
    assert result["status"] == "FAILED"
    cause = json.loads(result["cause"])
    assert cause["error_type"] == "CHECK_FAILED"
    assert cause["error"] == (
        "data check expected no rows but found: "
        "store_id=S001, net_amount=-5; store_id=S002, net_amount=-1; store_id=S003, net_amount=None"
    )


def test_data_check_without_rows_passes(app, context) -> None:
    long_poll(app, "FINISHED", HasResultSet=True, ResultRows=0)
    app.stubber.add_response("get_statement_result", result_page([]), {"Id": STATEMENT_ID})
    result = check(app, context, now="2024-03-02T01:00:40Z", expect="no_rows")
    assert (result["status"], result["cause"]) == ("FINISHED", None)


def test_a_huge_database_error_is_capped_so_the_state_stays_under_256_kib(app, context) -> None:
    """Step Functions service quotas: a state's input and output are at most 256 KiB of UTF-8
    (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); past it the run ends
    with States.DataLimitExceeded, which States.ALL does not catch, and no Pipeline Failed event.
    """
    rejected = "; ".join(f"row {n}: order_id=ÖRDER-{n:06d} rejected (unknown store)" for n in range(6000))
    long_poll(app, "FAILED", Error=f"ERROR: merge rejected rows: {rejected}")

    result = check(app, context, now="2024-03-02T01:00:40Z")

    error = json.loads(result["cause"])["error"]
    assert len(error.encode()) <= 8 * 1024
    assert error.startswith("ERROR: merge rejected rows: row 0:")
    assert error.endswith("bytes in all]")
    assert len(json.dumps(result).encode()) < 256 * 1024
