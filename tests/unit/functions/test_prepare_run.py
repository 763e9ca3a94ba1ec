"""PrepareRun: input and spec validation, parameter resolution, stage plan."""

from __future__ import annotations

import pytest
from etl_common import InputError, SpecError, UnsafeValueError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def app(load_handler):
    return load_handler("prepare_run")


def prepare(app, context, execution_input) -> dict:
    event = {
        "input": execution_input,
        "execution_name": "exec-1",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:RunPipeline:exec-1",
        "started_at": "2024-03-02T02:00:00.5Z",
    }
    return app.lambda_handler(event, context)


def test_nightly_plan_with_default_business_date(app, context) -> None:
    run = prepare(app, context, {"pipeline": "nightly_sales_snapshot"})
    assert run["parameters"] == {"business_date": "2024-03-01"}
    assert run["stages"] == [
        {
            "name": "build_daily_snapshot",
            "steps": [{"name": "build_daily_snapshot", "timeout_seconds": 14400}],
        },
        {"name": "check_snapshot", "steps": [{"name": "check_snapshot", "timeout_seconds": 600}]},
    ]


def test_parallel_group_is_one_stage_of_several_steps(app, context) -> None:
    run = prepare(app, context, {"pipeline": "refresh_sales_views", "parameters": {}})
    assert [[s["name"] for s in stage["steps"]] for stage in run["stages"]] == [
        ["refresh_daily_store_sales", "refresh_category_sales"]
    ]


def test_step_without_timeout_gets_the_default(app, context, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("STEP_TIMEOUT_SECONDS", "900")
    run = prepare(
        app, context, {"pipeline": "load_customer_segments", "parameters": {"business_date": "2024-03-01"}}
    )
    assert run["stages"][0]["steps"][0]["timeout_seconds"] == 14400


@pytest.mark.parametrize(
    ("execution_input", "error", "message"),
    [
        (
            {"parameters": {}},
            InputError,
            "execution input is invalid (start-input schema): (top level): 'pipeline' is a required property",
        ),
        ({"pipeline": "nope"}, SpecError, "pipeline 'nope' has no spec file"),
        (
            {"pipeline": "ingest_sales", "parameters": {"bucket": "b"}},
            InputError,
            "parameter 'object_key' is required",
        ),
        (
            {
                "pipeline": "ingest_sales",
                "parameters": {"bucket": "Bad_Bucket", "object_key": "sales/a.csv", "etag": "e"},
            },
            UnsafeValueError,
            "bucket name 'Bad_Bucket'",
        ),
        (
            {
                "pipeline": "ingest_sales",
                "parameters": {"bucket": "landing-1", "object_key": "sales/\u0007.csv", "etag": "e"},
            },
            UnsafeValueError,
            "control character",
        ),
    ],
)
def test_bad_runs_fail_before_any_sql(app, context, execution_input, error, message: str) -> None:
    with pytest.raises(error) as caught:
        prepare(app, context, execution_input)
    assert message in str(caught.value)
