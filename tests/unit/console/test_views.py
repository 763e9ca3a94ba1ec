"""The run page's JSON views and its HTTP answers, on executions run by the Step Functions engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from rsetl.awsproto.messages import AwsRequest, AwsResponse
from rsetl.awsproto.router import PageAdmission, Router
from rsetl.clock import VirtualClock
from rsetl.console.pages import PREFIX, ConsolePages
from rsetl.console.views import RunSource, chain_view, execution_view, pipelines_view
from rsetl.eventbridge.delivery import DeliveryRecord
from rsetl.eventbridge.entries import PutEventRecord
from rsetl.stepfunctions import StepFunctionsEngine
from rsetl.template.pipelines import load_pipelines

PROJECT_DIR = Path(__file__).resolve().parents[3]
START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Loop"},
        "Loop": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "Bad"}],
                        "Default": "Good",
                    },
                    "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "v is 1"},
                    "Good": {"Type": "Succeed"},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
            "Next": "Done",
        },
        "Recover": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"},
    },
}


def _source(engine: StepFunctionsEngine, **overrides: Any) -> RunSource:
    fields: dict[str, Any] = {
        "pipelines": load_pipelines(PROJECT_DIR / "template.yaml"),
        "executions": lambda: list(engine.executions.values()),
        "definition": lambda arn: engine.machines[arn].definition,
        "events": list,
        "deliveries": list,
        "statements": list,
        "now": engine.clock.now,
        "virtual_clock": True,
    }
    return RunSource(**{**fields, **overrides})


@pytest.fixture
def engine() -> StepFunctionsEngine:
    engine = StepFunctionsEngine(VirtualClock(START))
    engine.create_state_machine("m", json.dumps(MACHINE))
    return engine


def _run(engine: StepFunctionsEngine, items: list[dict[str, int]], name: str) -> Any:
    return engine.start_execution(engine.machine_arn("m"), {"items": items}, name=name, wait=True)


def test_the_graph_nests_map_states_and_the_taken_path_is_the_one_run(engine: StepFunctionsEngine) -> None:
    execution = _run(engine, [{"v": 0}, {"v": 1}], "caught")
    view = execution_view(_source(engine), execution)
    parents = {node["id"]: node["parent"] for node in view["graph"]["nodes"]}
    assert parents == {
        "Prepare": None,
        "Loop": None,
        "Check": "Loop",
        "Bad": "Loop",
        "Good": "Loop",
        "Recover": None,
        "Done": None,
    }
    assert {"from": "Loop", "to": "Recover", "label": "catch"} in view["graph"]["edges"]
    taken = view["taken"]
    assert ["Prepare", "Loop"] in taken and ["Loop", "Recover"] in taken
    assert ["Check", "Good"] in taken and ["Check", "Bad"] in taken
    assert ["Loop", "Done"] not in taken
    assert view["execution"]["status"] == "SUCCEEDED"


def test_state_entries_count_iterations_and_say_a_failure_was_caught(engine: StepFunctionsEngine) -> None:
    execution = _run(engine, [{"v": 0}, {"v": 1}], "caught")
    states = execution_view(_source(engine), execution)["states"]
    assert states["Check"]["count"] == 2
    (loop,) = states["Loop"]["entries"]
    assert [(f["type"], f["outcome"]) for f in loop["failures"]] == [("MapStateFailed", "caught")]
    assert loop["exited"] is not None and loop["input"] == {"items": [{"v": 0}, {"v": 1}]}
    assert states["Bad"]["entries"][0]["durationMs"] == 0
    assert "Done" not in states
    assert states["Prepare"]["firstEntered"] == START.isoformat()


def test_a_run_without_failures_takes_the_next_edge(engine: StepFunctionsEngine) -> None:
    execution = _run(engine, [{"v": 0}], "clean")
    view = execution_view(_source(engine), execution)
    assert ["Loop", "Done"] in view["taken"] and ["Loop", "Recover"] not in view["taken"]
    assert all(not e["failures"] for s in view["states"].values() for e in s["entries"])


def test_statements_are_those_named_after_the_execution() -> None:
    from rsetl.console.views import step_statements

    statements = [
        {
            "Id": "s1",
            "StatementName": "run-1.load_file",
            "Status": "FINISHED",
            "Duration": 2_500_000,
            "ResultRows": 3,
            "SubStatements": [
                {"QueryString": "LOCK t", "Status": "FINISHED", "Duration": 1_000_000, "ResultRows": 0}
            ],
        },
        {
            "Id": "s2",
            "StatementName": "run-10.load_file",
            "Status": "FAILED",
            "Error": "boom",
            "Duration": -1,
        },
    ]
    (shown,) = step_statements(statements, "run-1")
    assert (shown["step"], shown["status"], shown["durationMs"], shown["rows"]) == (
        "load_file",
        "FINISHED",
        2.5,
        3,
    )
    assert shown["sql"][0]["text"] == "LOCK t"


def test_the_chain_links_an_upload_to_its_ingest_and_the_refresh_its_success_started(
    engine: StepFunctionsEngine,
) -> None:
    """EventBridge reports no execution ARN for a delivery; the execution started from its payload is it."""
    arn = engine.machine_arn("m")
    ingest = _run(engine, [{"v": 0}], "ingest")
    refresh = _run(engine, [], "refresh")
    upload = PutEventRecord(
        "ev-1",
        "default",
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "sales/a.csv"}}},
        START,
        ("rule/up",),
    )
    success = PutEventRecord(
        "ev-2",
        "bus",
        {
            "source": "rsetl.pipeline",
            "detail-type": "Pipeline Succeeded",
            "detail": {"execution_arn": ingest.arn},
        },
        START,
        ("rule/after",),
    )
    deliveries = [
        DeliveryRecord(
            1,
            "ev-1",
            "aws.s3",
            "t",
            arn,
            json.dumps({"items": [{"v": 0}]}),
            rule_arn="a:rule/up",
            status="SUCCEEDED",
            attempts=1,
            created_at=START,
        ),
        DeliveryRecord(
            2,
            "ev-2",
            "rsetl.pipeline",
            "t",
            arn,
            json.dumps({"items": []}),
            rule_arn="a:rule/after",
            status="SUCCEEDED",
            attempts=1,
            created_at=START,
        ),
    ]
    source = _source(engine, events=lambda: [upload, success], deliveries=lambda: deliveries)
    chain = chain_view(source, refresh)
    assert [(link["kind"], link.get("name") or link["label"]) for link in chain] == [
        ("event", "aws.s3 · Object Created"),
        ("rule", "up"),
        ("execution", "ingest"),
        ("event", "rsetl.pipeline · Pipeline Succeeded"),
        ("rule", "after"),
        ("execution", "refresh"),
    ]
    forward = chain_view(source, ingest)
    assert [link["kind"] for link in forward] == ["event", "rule", "execution", "event", "rule", "execution"]
    assert forward[-1]["name"] == "refresh"


def test_the_pipelines_view_lists_the_template_wiring_and_last_runs(engine: StepFunctionsEngine) -> None:
    view = pipelines_view(_source(engine))
    by_name = {p["name"]: p for p in view["pipelines"]}
    assert by_name["nightly_sales_snapshot"]["downstream"] == ["load_customer_segments"]
    assert by_name["ingest_sales"]["downstream"] == ["refresh_sales_views"]
    (refresh,) = by_name["refresh_sales_views"]["triggers"]
    assert (refresh["kind"], refresh["upstream"], refresh["via"]) == (
        "indirect",
        ["ingest_sales", "ingest_sales_batch", "ingest_products", "ingest_stores"],
        ["RequestRefreshFunction", "RefreshViewsStateMachine"],
    )
    assert (
        refresh["when"] == "after ingest_sales, ingest_sales_batch, ingest_products, ingest_stores succeeded"
    )
    assert by_name["ingest_sales"]["triggers"][0]["summary"] == "S3 upload under sales/"
    assert view["clock"] == {"now": START.isoformat(), "virtual": True}


def _get(pages: ConsolePages, path: str, method: str = "GET") -> AwsResponse:
    raw_path, _, query = path.partition("?")
    return pages.handle(AwsRequest(method, PREFIX + raw_path, query, Message(), b""))


def test_the_pages_answer_json_and_files_and_refuse_writes(engine: StepFunctionsEngine) -> None:
    execution = _run(engine, [{"v": 1}], "one")
    pages = ConsolePages(_source(engine))
    answer = _get(pages, f"api/execution?arn={execution.arn}")
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.body)["execution"]["name"] == "one"
    assert json.loads(_get(pages, "api/execution?arn=one").body)["execution"]["arn"] == execution.arn
    assert _get(pages, "api/execution?arn=nope").status == 404
    assert [e["name"] for e in json.loads(_get(pages, "api/executions").body)["executions"]] == ["one"]
    assert b"<title>rsetl runs</title>" in _get(pages, "").body
    vendored = _get(pages, "static/vendor/dagre.min.js")
    assert vendored.status == 200 and vendored.headers["Content-Type"].startswith("text/javascript")
    assert _get(pages, "static/../pages.py").status == 404
    assert _get(pages, "api/pipelines", method="POST").status == 405
    assert _get(pages, "api/pipelines", method="DELETE").status == 405
    bare = pages.handle(AwsRequest("GET", "/_rsetl", "", Message(), b""))
    assert (bare.status, bare.headers["Location"]) == (301, PREFIX)


def test_parallel_branches_nest_inside_their_state() -> None:
    from rsetl.console.history import state_graph

    branch = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    nodes, edges = state_graph(
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [branch, {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                    "End": True,
                }
            },
        }
    )
    assert [(n["id"], n["parent"]) for n in nodes] == [
        ("Both", None),
        ("Both branch 1", "Both"),
        ("A", "Both branch 1"),
        ("Both branch 2", "Both"),
        ("B", "Both branch 2"),
    ]
    assert edges == []


def test_the_router_serves_a_mounted_page_unsigned_and_everything_else_as_before() -> None:
    router = Router()
    router.mount(PREFIX, lambda request: AwsResponse(200, request.path.encode()))
    page = router.admit(AwsRequest("GET", "/_rsetl/api/pipelines", "", Message(), b""))
    assert isinstance(page, PageAdmission)
    assert (
        page.complete(AwsRequest("GET", "/_rsetl/api/pipelines", "", Message(), b"")).body
        == b"/_rsetl/api/pipelines"
    )
    other = router.admit(AwsRequest("GET", "/bucket/key", "", Message(), b""))
    assert not isinstance(other, PageAdmission)
