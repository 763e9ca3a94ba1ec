"""ExecuteStep with botocore's Stubber: the submit request, every status, and Data API errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.stub import ANY
from etl_common import TRANSIENT_ERRORS, InputError, UnsafeValueError

STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:RunPipeline:exec-1"
RUN: dict[str, Any] = {
    "pipeline": "ingest_sales",
    "execution_name": "exec-1",
    "execution_arn": EXECUTION_ARN,
    "parameters": {"bucket": "landing-1", "object_key": "sales/2024/03/01/a.csv", "etag": "abc123"},
    "changes": [],
    "source": {
        "status": "STAGED",
        "manifest": "s3://landing-1/rsetl-staging/exec-1/sales/2024/03/01/a.csv.manifest",
    },
}
NOW = "2024-03-02T01:05:12.000Z"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def app(stubbed_handler):
    return stubbed_handler("execute_step", "redshift_data", "redshift-data")


def batch_request(token: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "Database": "dev",
        "WorkgroupName": "default-workgroup",
        "StatementName": "exec-1.load_file",
        "ClientToken": token or hashlib.sha256(f"{EXECUTION_ARN}\nload_file\n0".encode()).hexdigest(),
        "Sqls": [
            "LOCK etl.load_ledger",
            "CREATE TEMP TABLE sales_lines_batch (LIKE staging.sales_lines)",
            "COPY sales_lines_batch FROM "
            "'s3://landing-1/rsetl-staging/exec-1/sales/2024/03/01/a.csv.manifest' "
            "IAM_ROLE default MANIFEST FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL BLANKSASNULL",
            "CALL sales.sp_merge_sales_lines(:bucket, :object_key, :etag, :execution_name)",
        ],
        "ExecutionMode": "TRANSACTION",
        "Parameters": [
            {"name": "bucket", "value": "landing-1"},
            {"name": "object_key", "value": "sales/2024/03/01/a.csv"},
            {"name": "etag", "value": "abc123"},
            {"name": "execution_name", "value": "exec-1"},
        ],
        **extra,
    }


def description(status: str, **extra: Any) -> dict[str, Any]:
    return {"Id": STATEMENT_ID, "Status": status, **extra}


def invoke(
    app, context, step: str = "load_file", run: dict[str, Any] = RUN, attempt: int = 1, redrive_count: int = 0
) -> dict[str, Any]:
    event = {
        "run": run,
        "step": {"name": step, "timeout_seconds": 3600},
        "attempt": attempt,
        "now": NOW,
        "redrive_count": redrive_count,
        "execution_name": "exec-1",
    }
    return app.lambda_handler(event, context)


SERIALIZATION_FAILURE = (
    "ERROR: 1023 DETAIL: Serializable isolation violation on table - 100345, "
    "transactions forming the cycle are: 1033, 1044 (pid:21402)"
)
"""Redshift's error 1023 ("Fixing serializable isolation errors",
https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)."""


def test_a_serialization_failure_is_submitted_again_with_backoff(app, context) -> None:
    app.stubber.add_response(
        "batch_execute_statement", {"Id": STATEMENT_ID}, batch_request(WaitTimeSeconds=30)
    )
    app.stubber.add_response(
        "describe_statement",
        description("FAILED", SubStatements=[{"Id": f"{STATEMENT_ID}:4", "Error": SERIALIZATION_FAILURE}]),
        {"Id": STATEMENT_ID},
    )
    statement = invoke(app, context)
    assert statement["status"] == "FAILED"
    assert statement["retry"] is True and statement["attempt"] == 1
    assert 1 <= statement["wait_seconds"] <= 2
    assert "1023" in json.loads(statement["cause"])["error"]


def test_each_submission_has_its_own_client_token_and_the_last_one_fails_the_step(app, context) -> None:
    token = hashlib.sha256(f"{EXECUTION_ARN}\nload_file\n0\n8".encode()).hexdigest()
    app.stubber.add_response(
        "batch_execute_statement", {"Id": STATEMENT_ID}, batch_request(token, WaitTimeSeconds=30)
    )
    app.stubber.add_response(
        "describe_statement", description("FAILED", Error=SERIALIZATION_FAILURE), {"Id": STATEMENT_ID}
    )
    statement = invoke(app, context, attempt=8)
    assert statement["retry"] is False and statement["attempt"] == 8
    assert "(submission 8 of 8)" in json.loads(statement["cause"])["error"]


def test_other_database_errors_are_not_submitted_again(app, context) -> None:
    app.stubber.add_response(
        "batch_execute_statement", {"Id": STATEMENT_ID}, batch_request(WaitTimeSeconds=30)
    )
    app.stubber.add_response(
        "describe_statement",
        description("FAILED", Error='ERROR: relation "sales.fact_sales" does not exist'),
        {"Id": STATEMENT_ID},
    )
    assert invoke(app, context)["retry"] is False


def test_ingest_submits_one_idempotent_transaction_batch(app, context) -> None:
    app.stubber.add_response(
        "batch_execute_statement",
        {"Id": STATEMENT_ID, "Status": "FINISHED"},
        batch_request(WaitTimeSeconds=30),
    )
    app.stubber.add_response(
        "describe_statement", description("FINISHED", ResultRows=120), {"Id": STATEMENT_ID}
    )
    statement = invoke(app, context)
    assert statement["status"] == "FINISHED"
    assert statement["id"] == STATEMENT_ID
    assert statement["result_rows"] == 120
    assert statement["cause"] is None
    assert statement["submitted_at"] == NOW


def test_a_superseded_version_is_recorded_instead_of_loaded(app, context) -> None:
    reason = "s3://landing-1/sales/2024/03/01/a.csv is no longer version abc123: it was overwritten"
    run = {**RUN, "source": {"status": "SUPERSEDED", "reason": reason}}
    app.stubber.add_response(
        "execute_statement",
        {"Id": STATEMENT_ID},
        {
            "Database": "dev",
            "WorkgroupName": "default-workgroup",
            "StatementName": "exec-1.load_file",
            "ClientToken": ANY,
            "Sql": "CALL etl.sp_record_superseded_load(:bucket, :object_key, :etag, :pipeline, "
            ":execution_name, :reason)",
            "Parameters": [
                {"name": "bucket", "value": "landing-1"},
                {"name": "object_key", "value": "sales/2024/03/01/a.csv"},
                {"name": "etag", "value": "abc123"},
                {"name": "pipeline", "value": "ingest_sales"},
                {"name": "execution_name", "value": "exec-1"},
                {"name": "reason", "value": reason},
            ],
            "WaitTimeSeconds": 30,
        },
    )
    app.stubber.add_response("describe_statement", description("FINISHED"), {"Id": STATEMENT_ID})
    assert invoke(app, context, run=run)["status"] == "FINISHED"


def test_a_copy_step_without_a_staged_source_is_refused(app, context) -> None:
    run = {key: value for key, value in RUN.items() if key != "source"}
    with pytest.raises(InputError, match="no staged source"):
        invoke(app, context, run=run)


def test_a_retried_submit_sends_the_same_client_token(app, context) -> None:
    for _ in range(2):
        app.stubber.add_response(
            "batch_execute_statement", {"Id": STATEMENT_ID}, batch_request(WaitTimeSeconds=30)
        )
        app.stubber.add_response("describe_statement", description("STARTED"), {"Id": STATEMENT_ID})
    assert invoke(app, context)["id"] == invoke(app, context)["id"]


def test_a_redriven_execution_sends_a_new_client_token(app, context) -> None:
    """A redrive reruns the failed step: the same token would return the failed statement instead.

    Step Functions, "Redriving executions" ($$.Execution.RedriveCount):
    https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
    Redshift Data API ExecuteStatement ClientToken (idempotency):
    https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_BatchExecuteStatement.html
    """
    redriven = hashlib.sha256(f"{EXECUTION_ARN}\nload_file\n1".encode()).hexdigest()
    app.stubber.add_response(
        "batch_execute_statement",
        {"Id": STATEMENT_ID},
        batch_request(WaitTimeSeconds=30, ClientToken=redriven),
    )
    app.stubber.add_response("describe_statement", description("STARTED"), {"Id": STATEMENT_ID})
    assert invoke(app, context, redrive_count=1)["id"] == STATEMENT_ID
    app.stubber.assert_no_pending_responses()


def test_single_statement_steps_use_execute_statement(app, context) -> None:
    run = {**RUN, "pipeline": "nightly_sales_snapshot", "parameters": {"business_date": "2024-03-01"}}
    app.stubber.add_response(
        "execute_statement",
        {"Id": STATEMENT_ID},
        {
            "Database": "dev",
            "WorkgroupName": "default-workgroup",
            "StatementName": "exec-1.build_daily_snapshot",
            "ClientToken": ANY,
            "Sql": "CALL sales.sp_build_daily_snapshot(:business_date)",
            "Parameters": [{"name": "business_date", "value": "2024-03-01"}],
            "WaitTimeSeconds": 30,
        },
    )
    app.stubber.add_response("describe_statement", description("STARTED"), {"Id": STATEMENT_ID})
    statement = invoke(app, context, step="build_daily_snapshot", run=run)
    assert statement["status"] == "STARTED"
    assert statement["timed_out"] is False
    assert statement["wait_seconds"] == 2


def test_provisioned_cluster_with_db_user(app, context, monkeypatch) -> None:
    monkeypatch.delenv("REDSHIFT_WORKGROUP_NAME")
    monkeypatch.setenv("REDSHIFT_CLUSTER_IDENTIFIER", "etl-cluster")
    monkeypatch.setenv("REDSHIFT_DB_USER", "etl")
    request = batch_request(WaitTimeSeconds=30, ClusterIdentifier="etl-cluster", DbUser="etl")
    del request["WorkgroupName"]
    app.stubber.add_response("batch_execute_statement", {"Id": STATEMENT_ID}, request)
    app.stubber.add_response("describe_statement", description("SUBMITTED"), {"Id": STATEMENT_ID})
    assert invoke(app, context)["status"] == "SUBMITTED"


@pytest.mark.parametrize(
    ("status", "extra", "error_type", "error"),
    [
        (
            "FAILED",
            {"Error": 'ERROR: relation "staging.sales_lines" does not exist'},
            "FAILED",
            "does not exist",
        ),
        (
            "FAILED",
            {
                "SubStatements": [
                    {"Id": f"{STATEMENT_ID}:1", "Status": "FINISHED"},
                    {"Id": f"{STATEMENT_ID}:2", "Status": "FAILED", "Error": "ERROR: bad row 7"},
                ]
            },
            "FAILED",
            "sub-statement 2: ERROR: bad row 7",
        ),
        ("ABORTED", {}, "ABORTED", "statement ABORTED without an error message"),
        ("PAUSED", {}, "UNKNOWN_STATUS", "status 'PAUSED' (not a status the Data API documents)"),
    ],
)
def test_ending_statuses_carry_a_cause_naming_step_statement_and_error(
    app, context, status: str, extra: dict[str, Any], error_type: str, error: str
) -> None:
    app.stubber.add_response(
        "batch_execute_statement", {"Id": STATEMENT_ID}, batch_request(WaitTimeSeconds=30)
    )
    app.stubber.add_response("describe_statement", description(status, **extra), {"Id": STATEMENT_ID})
    statement = invoke(app, context)
    cause = json.loads(statement["cause"])
    assert cause["step"] == "load_file"
    assert cause["statement_id"] == STATEMENT_ID
    assert cause["error_type"] == error_type
    assert error in cause["error"]


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("ThrottlingException", True),
        ("ActiveStatementsExceededException", True),
        ("InternalServerException", True),
        ("DatabaseConnectionException", True),
        ("ValidationException", False),
        ("ExecuteStatementException", False),
    ],
)
def test_data_api_errors_surface_under_their_own_names(app, context, code: str, transient: bool) -> None:
    app.stubber.add_client_error("batch_execute_statement", service_error_code=code, service_message="no")
    with pytest.raises(Exception) as caught:
        invoke(app, context)
    assert type(caught.value).__name__ == code
    assert f"BatchExecuteStatement failed with {code}: no" in str(caught.value)
    assert (code in TRANSIENT_ERRORS) is transient


def test_too_many_waiting_requests_resubmits_without_waiting(app, context) -> None:
    app.stubber.add_client_error(
        "batch_execute_statement",
        service_error_code="ActiveWaitingRequestsExceededException",
        expected_params=batch_request(WaitTimeSeconds=30),
    )
    app.stubber.add_response("batch_execute_statement", {"Id": STATEMENT_ID}, batch_request())
    app.stubber.add_response("describe_statement", description("PICKED"), {"Id": STATEMENT_ID})
    assert invoke(app, context)["status"] == "PICKED"


def test_unsafe_object_key_fails_before_any_call(app, context) -> None:
    run = {**RUN, "parameters": {**RUN["parameters"], "object_key": "sales/../x.csv"}}
    with pytest.raises(UnsafeValueError, match=r"'\.' or '\.\.' path segment"):
        invoke(app, context, run=run)


def test_missing_target_configuration_is_reported(app, context, monkeypatch) -> None:
    monkeypatch.delenv("REDSHIFT_WORKGROUP_NAME")
    with pytest.raises(
        ValueError, match="set exactly one of REDSHIFT_CLUSTER_IDENTIFIER and REDSHIFT_WORKGROUP_NAME"
    ):
        invoke(app, context)
