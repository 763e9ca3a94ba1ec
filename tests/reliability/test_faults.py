"""Faults anywhere in a run: it ends SUCCEEDED after retries, or FAILED with a "Pipeline Failed" event;
either way the file is loaded exactly once or not at all, and the ledger says which."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from reliability_support import (
    distinct_fact_keys,
    executions_for,
    fact_rows,
    function_name,
    history_errors,
    landing_bucket,
    ledger,
    pipeline_events,
    sales_csv,
    settle,
    statements_for,
    states_entered,
    upload,
)

from rsetl.lambdas import LambdaFault
from rsetl.runtime import LocalRuntime

ROWS = 25


def _load(runtime: LocalRuntime, tag: str) -> str:
    key = f"sales/2026/11/06/fault-{tag}.csv"
    upload(runtime, key, sales_csv(f"F-{tag}", ROWS))
    settle(runtime)
    return key


def assert_loaded_once(runtime: LocalRuntime, key: str) -> None:
    """SUCCEEDED, every row once, one LOADED ledger row, a success event and no failure event."""
    (execution,) = executions_for(runtime, key)
    assert execution.status == "SUCCEEDED", execution.cause
    assert fact_rows(runtime, key) == ROWS
    assert distinct_fact_keys(runtime, key) == ROWS
    assert ledger(runtime, key) == [("LOADED", ROWS)]
    assert len(pipeline_events(runtime, "Pipeline Succeeded", key)) == 1
    assert pipeline_events(runtime, "Pipeline Failed", key) == []


def assert_failed_cleanly(runtime: LocalRuntime, key: str, error_type: str, error: str) -> None:
    """FAILED, nothing loaded, a FAILED ledger row, the file quarantined, one event naming it all."""
    assert fact_rows(runtime, key) == 0
    assert [status for status, _ in ledger(runtime, key)] == ["FAILED"]
    assert_failed_event(runtime, key, error_type, error)


def assert_failed_event(runtime: LocalRuntime, key: str, error_type: str, error: str) -> None:
    """FAILED, the file quarantined, one "Pipeline Failed" event naming pipeline, step, statement, error."""
    (execution,) = executions_for(runtime, key)
    assert execution.status == "FAILED"
    (event,) = pipeline_events(runtime, "Pipeline Failed", key)
    assert pipeline_events(runtime, "Pipeline Succeeded", key) == []
    assert event["pipeline"] == "ingest_sales"
    assert event["step"] == "load_file"
    assert event["error_type"] == error_type
    assert re.search(error, event["error"]), event["error"]
    submitted = {s.id for s in statements_for(runtime, key)}
    assert event["statement_id"] in submitted
    assert event["execution_arn"] == execution.arn
    s3 = runtime.s3
    assert s3.list_keys(landing_bucket(runtime), key) == []
    assert s3.list_keys(landing_bucket(runtime), f"quarantine/{key}") == [f"quarantine/{key}"]


# -- Data API errors on submit: botocore retries a few, the state machine retries the rest ---------


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ActiveStatementsExceededException",
        "InternalServerException",
        "DatabaseConnectionException",
    ],
)
def test_transient_data_api_errors_are_retried(runtime: LocalRuntime, code: str) -> None:
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.fail_next("BatchExecuteStatement", code, count=7)
    key = _load(runtime, code)
    assert_loaded_once(runtime, key)
    (execution,) = executions_for(runtime, key)
    assert code in history_errors(execution), "more errors than botocore retries reach the state machine"
    assert len(statements_for(runtime, key)) == 1


def test_transient_errors_while_polling_are_retried(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    faults = runtime.redshift_data.faults
    faults.simulate_duration("fault-poll-errors", 600)
    faults.fail_next("DescribeStatement", "InternalServerException", count=12)
    key = _load(runtime, "poll-errors")
    assert_loaded_once(runtime, key)


def test_dropped_connections_before_the_submit_runs(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.drop_next("BatchExecuteStatement", count=2)
    key = _load(runtime, "drop-before")
    assert_loaded_once(runtime, key)
    assert len(statements_for(runtime, key)) == 1


def test_dropped_connection_after_the_submit_ran_loads_once(runtime: LocalRuntime) -> None:
    """The statement ran but its answer was lost: the retried submit (same ClientToken) finds it."""
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.drop_next("BatchExecuteStatement", count=1, after=True)
    key = _load(runtime, "drop-after")
    assert_loaded_once(runtime, key)
    assert len(statements_for(runtime, key)) == 1


# -- statements that end badly ------------------------------------------------------------------


def test_statement_ending_failed(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.force_status("fault-failed", "FAILED", "ERROR: disk full on slice 3")
    key = _load(runtime, "failed")
    assert_failed_cleanly(runtime, key, "FAILED", "disk full on slice 3")


def test_statement_ending_aborted(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.force_status("fault-aborted", "ABORTED")
    key = _load(runtime, "aborted")
    assert_failed_cleanly(runtime, key, "ABORTED", "(?i)cancel")


def test_statement_that_never_ends_is_cancelled(runtime: LocalRuntime) -> None:
    """Past the step's budget (3600 s) the statement is cancelled and the step fails (virtual clock)."""
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.simulate_duration("fault-never-ends", 10 * 24 * 3600)
    key = _load(runtime, "never-ends")
    assert_failed_event(runtime, key, "TIMED_OUT", "time budget of 3600 s")
    (execution,) = executions_for(runtime, key)
    assert "CancelTimedOutStatement" in states_entered(execution)
    assert execution.history.stats.state_transitions < 200


def test_unknown_status_cancels_the_statement_and_fails_the_step(runtime: LocalRuntime) -> None:
    """A status the Data API does not document: the statement may still be running, so it is cancelled."""
    assert runtime.redshift_data is not None
    faults = runtime.redshift_data.faults
    faults.simulate_duration("fault-unknown", 3000)
    faults.unknown_status("fault-unknown", "QUEUED_ON_MARS")
    key = _load(runtime, "unknown")
    assert_failed_event(runtime, key, "UNKNOWN_STATUS", "QUEUED_ON_MARS")
    (execution,) = executions_for(runtime, key)
    assert "CancelUnknownStatement" in states_entered(execution)


def test_cancelled_long_statement_leaves_nothing_loaded(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    runtime.redshift_data.faults.simulate_duration("fault-cancel-rollback", 10 * 24 * 3600)
    key = _load(runtime, "cancel-rollback")
    assert_failed_cleanly(runtime, key, "TIMED_OUT", "time budget")


# -- Lambda faults ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaCase:
    function: str
    fault: LambdaFault
    count: int
    succeeds: bool


LAMBDA_CASES = {
    "execute-service-error": LambdaCase("ExecuteStepFunction", LambdaFault.SERVICE_ERROR, 3, True),
    "execute-timeout": LambdaCase("ExecuteStepFunction", LambdaFault.TIMEOUT, 2, True),
    "check-timeout": LambdaCase("CheckStatementFunction", LambdaFault.TIMEOUT, 2, True),
    "prepare-service-error": LambdaCase("PrepareRunFunction", LambdaFault.SERVICE_ERROR, 2, True),
    "emit-service-error": LambdaCase("EmitEventFunction", LambdaFault.SERVICE_ERROR, 2, True),
    "execute-exception": LambdaCase("ExecuteStepFunction", LambdaFault.EXCEPTION, 1, False),
}


@pytest.mark.parametrize("name", list(LAMBDA_CASES))
def test_lambda_faults(runtime: LocalRuntime, name: str) -> None:
    case = LAMBDA_CASES[name]
    assert runtime.lambdas is not None
    if case.function == "CheckStatementFunction":
        assert runtime.redshift_data is not None
        runtime.redshift_data.faults.simulate_duration(f"fault-{name}", 300)
    runtime.lambdas.faults.fail_next(function_name(runtime, case.function), case.fault, case.count)
    key = _load(runtime, name)
    assert runtime.lambdas.faults.pending(function_name(runtime, case.function)) == 0
    if case.succeeds:
        assert_loaded_once(runtime, key)
        assert len(statements_for(runtime, key)) == 1
    else:
        (execution,) = executions_for(runtime, key)
        assert execution.status == "FAILED"
        assert fact_rows(runtime, key) == 0
        (event,) = pipeline_events(runtime, "Pipeline Failed", key)
        assert event["step"] == "load_file"
        assert event["error_type"] == "InjectedError"
        assert "Injected exception" in event["error"]
        assert [status for status, _ in ledger(runtime, key)] == ["FAILED"]
