"""The real RunPipeline ASL with the real Lambda handlers on the local Step Functions engine.

A simulated Redshift Data API shares the engine's virtual clock: a long poll advances the
clock until the statement ends or the wait passes. This checks the poll loop's budget end to
end: state transitions per step, how soon the machine notices a statement's end, the history
limit for a 24-hour statement, cancellation at the time budget, and the completion events.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.stepfunctions import (
    HISTORY_EVENT_LIMIT,
    IntegrationRegistry,
    LambdaIntegration,
    StepFunctionsEngine,
)

REPO = Path(__file__).resolve().parents[3]
ASL = REPO / "statemachines" / "run_pipeline.asl.json"
HANDLERS = {
    "PrepareRunFunctionArn": "prepare_run",
    "ExecuteStepFunctionArn": "execute_step",
    "CheckStatementFunctionArn": "check_statement",
    "CancelStatementFunctionArn": "cancel_statement",
    "EmitEventFunctionArn": "emit_event",
}
STEP_STATES = {
    "ExecuteStep",
    "StatementStatus",
    "WaitBeforeCheck",
    "CheckStatement",
    "CancelTimedOutStatement",
    "StepSucceeded",
    "StatementFailed",
    "StatementAborted",
    "UnknownStatementStatus",
    "StepTimedOut",
}
SPEC = """\
name: long_statement
parameters:
  seconds: {type: integer, required: true}
steps:
  - name: work
    timeout_seconds: {timeout}
    statements:
      - sql: CALL demo.sp_work(:seconds)
"""
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


class SimulatedDataApi:
    """Statements that run for the ``seconds`` parameter they are given, on the virtual clock."""

    def __init__(self, clock: VirtualClock, final_status: str) -> None:
        self.clock = clock
        self.final_status = final_status
        self.statements: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.cancelled: list[str] = []
        self.cancel_error: Exception | None = None

    def execute_statement(self, **request: Any) -> dict[str, Any]:
        token = request["ClientToken"]
        if token not in self.tokens:
            seconds = int(next(p["value"] for p in request["Parameters"] if p["name"] == "seconds"))
            statement_id = str(uuid.uuid4())
            self.tokens[token] = statement_id
            self.statements[statement_id] = {"ends_at": self.clock.monotonic() + seconds, "status": None}
        statement_id = self.tokens[token]
        return {"Id": statement_id, **self._wait(statement_id, request.get("WaitTimeSeconds"))}

    def describe_statement(self, Id: str, WaitTimeSeconds: int | None = None) -> dict[str, Any]:
        return {"Id": Id, **self._wait(Id, WaitTimeSeconds)}

    def cancel_statement(self, Id: str) -> dict[str, Any]:
        if self.cancel_error:
            raise self.cancel_error
        self.cancelled.append(Id)
        self.statements[Id]["status"] = "ABORTED"
        return {"Status": True}

    def _wait(self, statement_id: str, wait: int | None) -> dict[str, Any]:
        statement = self.statements[statement_id]
        if statement["status"] is None and wait:
            self.clock.advance(min(wait, max(0.0, statement["ends_at"] - self.clock.monotonic())))
        if statement["status"] is None and self.clock.monotonic() >= statement["ends_at"]:
            statement["status"] = self.final_status
        status = statement["status"] or "STARTED"
        return {"Status": status, **({"Error": "ERROR: simulated failure"} if status == "FAILED" else {})}


class RecordingEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"ev-{len(self.entries)}"}]}


@dataclass
class Context:
    function_name: str = "rsetl"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:rsetl"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 170_000


@dataclass
class Result:
    payload: Any
    function_error: str | None = None


class Handlers:
    """Invokes the real handlers in process, noting when the machine learns a statement ended."""

    def __init__(self, data_api: SimulatedDataApi, events: RecordingEvents, clock: VirtualClock) -> None:
        self.clock = clock
        self.modules: dict[str, ModuleType] = {}
        self.noticed_at: float | None = None
        accessors = {"redshift_data": lambda: data_api, "events_client": lambda: events}
        for name in HANDLERS.values():
            spec = importlib.util.spec_from_file_location(
                f"rsetl_flow_{name}", REPO / "functions" / name / "app.py"
            )
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for accessor, fake in accessors.items():
                if hasattr(module, accessor):
                    setattr(module, accessor, fake)
            self.modules[name] = module

    def invoke(self, function: str, payload: Any) -> Result:
        module = self.modules[function.rsplit(":", 1)[-1]]
        try:
            result = module.lambda_handler(payload, Context())
        except Exception as err:
            return Result({"errorType": type(err).__name__, "errorMessage": str(err)}, "Unhandled")
        if isinstance(result, dict) and result.get("status") not in (None, "SUBMITTED", "PICKED", "STARTED"):
            self.noticed_at = self.noticed_at if self.noticed_at is not None else self.clock.monotonic()
        return Result(result)


@dataclass
class Run:
    execution: Any
    data_api: SimulatedDataApi
    events: RecordingEvents
    handlers: Handlers
    started: float


def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seconds: int,
    final_status: str = "FINISHED",
    timeout: int = 86400,
    parameters: dict[str, Any] | None = None,
    cancel_error: Exception | None = None,
) -> Run:
    shutil.copytree(REPO / "pipelines" / "schemas", tmp_path / "schemas")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "long_statement.yaml").write_text(SPEC.replace("{timeout}", str(timeout)))
    for name, value in {
        "PIPELINES_DIR": str(tmp_path),
        "POWERTOOLS_METRICS_NAMESPACE": "rsetl",
        "REDSHIFT_DATABASE": "dev",
        "REDSHIFT_WORKGROUP_NAME": "default-workgroup",
        "STEP_TIMEOUT_SECONDS": "3600",
        "EVENT_BUS_NAME": "rsetl-pipeline-events",
    }.items():
        monkeypatch.setenv(name, value)
    clock = VirtualClock()
    data_api, events = SimulatedDataApi(clock, final_status), RecordingEvents()
    data_api.cancel_error = cancel_error
    handlers = Handlers(data_api, events, clock)
    engine = StepFunctionsEngine(
        clock, integrations=IntegrationRegistry({"lambda": LambdaIntegration(handlers)})
    )
    substitutions = {
        key: f"arn:aws:lambda:us-east-1:000000000000:function:{name}" for key, name in HANDLERS.items()
    }
    machine = engine.create_state_machine("RunPipeline", ASL.read_text(), substitutions=substitutions)
    started = clock.monotonic()
    execution = engine.start_execution(
        machine.arn,
        {"pipeline": "long_statement", "parameters": parameters or {"seconds": seconds}},
        "run-1",
        wait=True,
    )
    return Run(execution, data_api, events, handlers, started)


def step_transitions(execution: Any) -> int:
    entered = [e for e in execution.history.events if e["type"].endswith("StateEntered")]
    return sum(1 for e in entered if e["stateEnteredEventDetails"]["name"] in STEP_STATES)


def emitted(run: Run) -> list[tuple[str, dict[str, Any]]]:
    return [(e["DetailType"], json.loads(e["Detail"])) for e in run.events.entries]


@pytest.mark.parametrize(
    ("seconds", "max_transitions"),
    [(1, 10), (29, 10), (300, 80), (3600, 80)],
    ids=["1s", "29s", "5min", "1h"],
)
def test_transitions_and_detection_latency_stay_within_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: int, max_transitions: int
) -> None:
    result = run(tmp_path, monkeypatch, seconds)
    assert result.execution.status == "SUCCEEDED", (result.execution.error, result.execution.cause)
    assert step_transitions(result.execution) <= max_transitions
    assert result.handlers.noticed_at is not None
    latency = result.handlers.noticed_at - (result.started + seconds)
    assert 0 <= latency <= max(2.0, 0.05 * seconds)
    ((detail_type, detail),) = emitted(result)
    assert (detail_type, detail["state"], detail["parameters"]) == (
        "Pipeline Succeeded",
        "SUCCEEDED",
        {"seconds": seconds},
    )


def test_a_24_hour_statement_stays_far_below_the_history_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, 86_000)
    assert result.execution.status == "SUCCEEDED", (result.execution.error, result.execution.cause)
    assert len(result.execution.history.events) < HISTORY_EVENT_LIMIT // 5
    noticed_at = result.handlers.noticed_at
    assert noticed_at is not None, "the machine learned that the statement ended"
    latency = noticed_at - (result.started + 86_000)
    assert 0 <= latency <= 0.05 * 86_000


def test_a_failed_statement_fails_the_run_naming_step_and_database_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tmp_path, monkeypatch, 45, final_status="FAILED")
    execution = result.execution
    assert (execution.status, execution.error) == ("FAILED", "rsetl.PipelineFailed")
    assert "step 'work'" in execution.cause and "ERROR: simulated failure" in execution.cause
    ((detail_type, detail),) = emitted(result)
    assert detail_type == "Pipeline Failed"
    assert (detail["step"], detail["error_type"], detail["error"]) == (
        "work",
        "FAILED",
        "ERROR: simulated failure",
    )
    assert detail["statement_id"] in result.data_api.statements


def test_an_aborted_statement_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tmp_path, monkeypatch, 10, final_status="ABORTED")
    assert result.execution.status == "FAILED"
    assert emitted(result)[0][1]["error_type"] == "ABORTED"


def test_a_statement_past_its_budget_is_cancelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tmp_path, monkeypatch, 10_000, timeout=600)
    assert result.execution.status == "FAILED"
    assert len(result.data_api.cancelled) == 1
    ((_, detail),) = emitted(result)
    assert (detail["step"], detail["error_type"]) == ("work", "TIMED_OUT")
    assert "time budget of 600 s" in detail["error"]
    finished = datetime.fromisoformat(str(result.execution.history.events[-1]["timestamp"]))
    started = datetime.fromisoformat(str(result.execution.history.events[0]["timestamp"]))
    assert 600 <= (finished - started).total_seconds() <= 600 + 150


def test_a_failed_cancel_still_reports_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tmp_path, monkeypatch, 10_000, timeout=600, cancel_error=RuntimeError("connection reset"))
    assert result.execution.status == "FAILED"
    ((_, detail),) = emitted(result)
    assert (detail["step"], detail["error_type"]) == ("work", "TIMED_OUT")
    assert detail["statement_id"] in result.data_api.statements
    assert "time budget of 600 s and could not be cancelled: RuntimeError" in detail["error"]


def test_bad_input_fails_before_any_statement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tmp_path, monkeypatch, 0, parameters={"seconds": "soon"})
    assert (result.execution.status, result.execution.error) == ("FAILED", "rsetl.PipelineFailed")
    assert result.data_api.statements == {}
    ((_, detail),) = emitted(result)
    assert (detail["step"], detail["error_type"]) == (None, "InputError")
    assert "parameter 'seconds' must be an integer, not 'soon'" in detail["error"]
    assert "failed before any step ran" in result.execution.cause
