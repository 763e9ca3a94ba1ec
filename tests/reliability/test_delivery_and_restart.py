"""EventBridge delivery faults (duplicate, late, failing target) and PostgreSQL restarted mid-run."""

from __future__ import annotations

import json

from reliability_support import (
    executions_for,
    fact_rows,
    ledger,
    pipeline_events,
    run_pipeline_arn,
    sales_csv,
    scalar,
    settle,
    statements_for,
    upload,
)

from rsetl.runtime import LocalRuntime

ROWS = 20


def assert_loaded_once(runtime: LocalRuntime, key: str) -> None:
    assert fact_rows(runtime, key) == ROWS
    assert ledger(runtime, key) == [("LOADED", ROWS)]
    assert pipeline_events(runtime, "Pipeline Failed", key) == []


def test_duplicated_event_loads_once(runtime: LocalRuntime) -> None:
    """EventBridge delivers at least once: two runs of one file, serialized by the ledger lock."""
    runtime.events.dispatcher.faults.duplicate(run_pipeline_arn(runtime), times=1)
    key = "sales/2026/11/06/eb-duplicate.csv"
    upload(runtime, key, sales_csv("eb-duplicate", ROWS))
    settle(runtime)
    runs = executions_for(runtime, key)
    assert [r.status for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert_loaded_once(runtime, key)
    assert len(statements_for(runtime, key)) == 2


def test_event_delivered_a_day_late_loads_once(runtime: LocalRuntime) -> None:
    runtime.events.dispatcher.faults.delay(run_pipeline_arn(runtime), seconds=20 * 3600, times=1)
    key = "sales/2026/11/06/eb-late.csv"
    started = runtime.clock.now()
    upload(runtime, key, sales_csv("eb-late", ROWS))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.start_date is not None and (run.start_date - started).total_seconds() >= 20 * 3600
    assert run.status == "SUCCEEDED"
    assert_loaded_once(runtime, key)


def test_late_duplicate_after_the_load_changes_nothing(runtime: LocalRuntime) -> None:
    arn = run_pipeline_arn(runtime)
    runtime.events.dispatcher.faults.duplicate(arn, times=1)
    runtime.events.dispatcher.faults.delay(arn, seconds=6 * 3600, times=1)
    key = "sales/2026/11/06/eb-late-duplicate.csv"
    upload(runtime, key, sales_csv("eb-late-duplicate", ROWS))
    settle(runtime)
    assert [r.status for r in executions_for(runtime, key)] == ["SUCCEEDED", "SUCCEEDED"]
    assert_loaded_once(runtime, key)


def test_failing_target_is_retried(runtime: LocalRuntime) -> None:
    runtime.events.dispatcher.faults.fail(run_pipeline_arn(runtime), times=5)
    key = "sales/2026/11/06/eb-retried.csv"
    upload(runtime, key, sales_csv("eb-retried", ROWS))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.status == "SUCCEEDED"
    assert_loaded_once(runtime, key)
    # The ingest's success event (which names the key too) goes to RequestRefresh, not RunPipeline.
    machine = run_pipeline_arn(runtime)
    (record,) = [r for r in runtime.events.deliveries() if key in r.payload and r.target_arn == machine]
    assert record.attempts == 6
    assert record.status == "SUCCEEDED"


def test_target_failing_past_the_retry_policy_goes_to_the_dead_letter_queue(runtime: LocalRuntime) -> None:
    """185 retries (the template's policy), then the event lands in the DLQ; nothing is loaded."""
    runtime.events.dispatcher.faults.fail(run_pipeline_arn(runtime), times=186)
    key = "sales/2026/11/06/eb-dead-letter.csv"
    upload(runtime, key, sales_csv("eb-dead-letter", ROWS))
    settle(runtime)
    assert executions_for(runtime, key) == []
    assert fact_rows(runtime, key) == 0
    assert ledger(runtime, key) == []
    dead = [
        message
        for arn in runtime.events.dead_letters.queue_arns()
        for message in runtime.events.dead_letters.messages(arn)
        if key in json.dumps(message.json())
    ]
    assert len(dead) == 1
    queue = runtime.template.resources["TriggerDeadLetterQueue"]
    assert [body for body in runtime.sqs.visible_messages(queue.arn) if key in body] == [dead[0].body]


def drop_every_connection(runtime: LocalRuntime) -> int:
    """What clients see of a PostgreSQL restart: every backend is terminated, in-flight work rolls back.

    (`pg_ctl restart` needs a non-root user; the embedded server here runs as root.)
    """
    return int(
        scalar(
            runtime,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
    )


def test_postgres_restarted_in_the_middle_of_runs(runtime: LocalRuntime) -> None:
    """Runs in flight when PostgreSQL restarts end SUCCEEDED or FAILED-with-an-event; none half-loads."""
    keys = [f"sales/2026/11/06/pg-restart-{n}.csv" for n in range(6)]
    dropped = 0
    for n, key in enumerate(keys):
        upload(runtime, key, sales_csv(f"pg-restart-{n}", ROWS))
        dropped += drop_every_connection(runtime)
    assert dropped > 0
    settle(runtime)
    outcomes = {}
    for key in keys:
        (run,) = executions_for(runtime, key)
        statuses = [status for status, _ in ledger(runtime, key)]
        outcomes[key] = run.status
        if run.status == "SUCCEEDED":
            assert_loaded_once(runtime, key)
        else:
            assert fact_rows(runtime, key) == 0
            (event,) = pipeline_events(runtime, "Pipeline Failed", key)
            assert event["error"]
            assert "LOADED" not in statuses
    after = "sales/2026/11/06/pg-after-restart.csv"
    upload(runtime, after, sales_csv("pg-after-restart", ROWS))
    settle(runtime)
    (run,) = executions_for(runtime, after)
    assert run.status == "SUCCEEDED", (run.cause, outcomes)
    assert_loaded_once(runtime, after)
