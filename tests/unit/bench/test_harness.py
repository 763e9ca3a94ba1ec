"""The benchmark harness's own logic: cost arithmetic, the reference machine, event readers, parsers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.anchors import parse_copy, parse_overhead
from bench.cost import Prices, RunCounts, lambda_gb_seconds, run_cost
from bench.end_to_end import referenced
from bench.project import REFERENCE_ASL
from bench.waiting import (
    MAX_STATEMENT_SECONDS,
    Targets,
    lambda_waits,
    noticed,
    phased_duration,
    step_states,
)

from rsetl.clock import VirtualClock
from rsetl.stepfunctions import IntegrationRegistry, StepFunctionsEngine, TaskRequest, load_definition

RUN_PIPELINE = Path(__file__).resolve().parents[3] / "statemachines" / "run_pipeline.asl.json"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_run_cost_adds_each_billed_dimension_at_its_price() -> None:
    prices = Prices(state_transition=0.001, lambda_request=0.01, lambda_gb_second=0.1, custom_event=1.0)
    cost = run_cost(
        RunCounts(state_transitions=10, lambda_invocations=3, lambda_gb_seconds=2.5, events_put=1), prices
    )
    assert (
        cost.step_functions,
        cost.lambda_requests,
        cost.lambda_duration,
        cost.eventbridge,
    ) == pytest.approx((0.01, 0.03, 0.25, 1.0))
    assert cost.total == pytest.approx(1.29)


def test_published_prices_per_unit() -> None:
    prices = Prices()
    assert prices.state_transition * 1000 == pytest.approx(0.025)
    assert prices.lambda_request * 1_000_000 == pytest.approx(0.20)


def test_lambda_duration_is_billed_per_millisecond_rounded_up() -> None:
    # 1.0004 s + 0.05 s -> 1051 ms; 0 s + 0.05 s -> 50 ms; at 512 MB.
    assert lambda_gb_seconds([1.0004, 0.0], 512, 0.05) == pytest.approx((1051 + 50) / 1000 * 0.5)


def test_reference_machine_is_valid_asl_polling_every_five_seconds() -> None:
    definition = load_definition(REFERENCE_ASL.read_text())
    states = definition["States"]
    assert states["WaitFiveSeconds"] == {"Type": "Wait", "Seconds": 5, "Next": "DescribeStatement"}
    assert states["ExecuteStatement"]["Resource"].endswith("aws-sdk:redshiftdata:executeStatement")
    assert states["DescribeStatement"]["Resource"].endswith("aws-sdk:redshiftdata:describeStatement")
    assert states["StatementStatus"]["Default"] == "WaitFiveSeconds"


class FakeDataApi:
    """aws-sdk:redshiftdata for the reference machine: a statement of `seconds` on the clock."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def call(self, request: TaskRequest) -> Any:
        self.calls += 1
        if request.action == "executeStatement":
            return {"Id": "s-1"}
        done = self.clock.monotonic() >= self.seconds
        return {"Id": "s-1", "Status": "FINISHED" if done else "STARTED"}


def test_reference_machine_polls_until_the_statement_ends() -> None:
    clock = VirtualClock(T0)
    api = FakeDataApi(clock, 12)
    engine = StepFunctionsEngine(clock, integrations=IntegrationRegistry({"aws-sdk": api}))
    machine = engine.create_state_machine("reference", REFERENCE_ASL.read_text())
    execution = engine.start_execution(
        machine.arn, {"workgroup_name": "w", "database": "dev", "sql": "x"}, wait=True
    )
    assert execution.status == "SUCCEEDED"
    # ExecuteStatement, three (Wait, Describe, Choice) rounds at 5, 10, 15 s, Succeed.
    assert execution.history.stats.state_transitions == 1 + 3 * 3 + 1
    assert api.calls == 4
    assert noticed(execution.history.events) == ("s-1", T0 + timedelta(seconds=15))


def test_step_states_are_the_innermost_loop_of_run_pipeline() -> None:
    names = step_states(json.loads(RUN_PIPELINE.read_text()))
    assert {"ExecuteStep", "StatementStatus", "WaitBeforeCheck", "CheckStatement"} <= names
    assert not names & {"PrepareRun", "RunStages", "RunSteps", "EmitPipelineSucceeded"}


def _event(kind: str, seconds: float, details: dict[str, Any] | None = None) -> dict[str, Any]:
    key = kind[0].lower() + kind[1:] + "EventDetails"
    return {"type": kind, "timestamp": T0 + timedelta(seconds=seconds), key: details or {}}


def test_noticed_takes_the_first_task_result_with_a_final_status() -> None:
    lambda_output = {"resourceType": "lambda"}
    events = [
        _event(
            "TaskSucceeded",
            1,
            {**lambda_output, "output": json.dumps({"Payload": {"id": "a", "status": "STARTED"}})},
        ),
        _event(
            "TaskSucceeded",
            9,
            {**lambda_output, "output": json.dumps({"Payload": {"id": "a", "status": "FAILED"}})},
        ),
        _event("TaskSucceeded", 12, {"output": json.dumps({"Id": "a", "Status": "FINISHED"})}),
    ]
    assert noticed(events) == ("a", T0 + timedelta(seconds=9))
    assert noticed(events[:1]) is None


def test_lambda_waits_pair_each_start_with_its_end() -> None:
    lam = {"resourceType": "lambda"}
    events = [
        _event("TaskStarted", 0, lam),
        _event("TaskSucceeded", 30, {**lam, "output": "{}"}),
        _event("TaskStarted", 40, {"resourceType": "aws-sdk:redshiftdata"}),
        _event("TaskSucceeded", 41, {"resourceType": "aws-sdk:redshiftdata", "output": "{}"}),
        _event("TaskStarted", 50, lam),
        _event("TaskFailed", 52.5, lam),
    ]
    assert lambda_waits(events) == [30.0, 2.5]


@pytest.mark.parametrize(
    ("duration", "transitions", "events", "latency"),
    [(1, 10, None, 2.0), (30, 80, None, 2.0), (3600, 80, None, 180.0), (86_400, None, 5_000, 4320.0)],
)
def test_targets_per_duration(
    duration: int, transitions: int | None, events: int | None, latency: float
) -> None:
    targets = Targets.for_duration(duration)
    assert (targets.max_step_transitions, targets.max_history_events, targets.max_latency) == (
        transitions,
        events,
        latency,
    )


def test_phased_durations_stay_within_the_data_api_limit() -> None:
    assert phased_duration(3600, 1.7) == pytest.approx(3601.7)
    assert phased_duration(86_400, 0.0) == 86_400
    assert phased_duration(86_400, 3.4) < MAX_STATEMENT_SECONDS
    assert phased_duration(86_400, 1.7) < phased_duration(86_400, 3.4)


def test_anchor_outputs_are_read() -> None:
    overhead = (
        "tiny statement <= 4x psycopg (open connection): MISSED\n>= 100 ms statement <= 1.1x psycopg: holds\n"
    )
    assert parse_overhead(overhead) == [
        ("tiny statement <= 4x psycopg (open connection)", False),
        (">= 100 ms statement <= 1.1x psycopg", True),
    ]
    assert parse_copy("lowest ratio 0.83 meets the target of 0.7\n") == (0.83, True)
    assert parse_copy("lowest ratio 0.52 misses the target of 0.7") == (0.52, False)
    assert parse_copy("nothing") is None


def test_batch_parameters_go_to_the_statements_that_reference_them() -> None:
    parameters = {"bucket": "b", "etag": "e"}
    assert referenced("CALL p(:bucket, :etag)", parameters) == parameters
    assert referenced("SELECT x::int, :bucket", parameters) == {"bucket": "b"}
    assert referenced("SELECT :bucket_name", parameters) == {}
