"""StartBatchLoads with botocore's Stubber: an SQS batch of S3 events starts one load per 19 files, a
failed batch starts again in halves.

- Partial batch responses ("Handling errors for an SQS event source in Lambda",
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): only the records named
  in `batchItemFailures` return to the queue.
- StartExecution (AWS Step Functions API Reference): a name already used answers ExecutionAlreadyExists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:RunPipeline"
BUCKET = "landing-bucket"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def app(load_handler, stubbed, monkeypatch):
    module = load_handler("start_batch_loads")
    client, module.sfn_stub = stubbed("stepfunctions")
    module.sfn_client = client
    monkeypatch.setattr(module, "stepfunctions", lambda: client)
    monkeypatch.setenv("RUN_PIPELINE_STATE_MACHINE_ARN", MACHINE)
    return module


def s3_event(key: str, etag: str = "e1") -> str:
    """The body EventBridge sends the queue: the whole S3 "Object Created" event."""
    detail = {"bucket": {"name": BUCKET}, "object": {"key": key, "etag": etag, "size": 10}}
    return json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": detail})


def record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs"}


def started_inputs(app, count: int, *, closed: bool = False) -> list[dict[str, Any]]:
    """Expect `count` StartExecution calls; the inputs they were given."""
    inputs: list[dict[str, Any]] = []
    for _ in range(count):
        if closed:
            app.sfn_stub.add_client_error("start_execution", "ExecutionAlreadyExists")
        else:
            app.sfn_stub.add_response(
                "start_execution",
                {"executionArn": f"{MACHINE}:x", "startDate": datetime(2026, 11, 6, tzinfo=UTC)},
            )
    original = app.sfn_client.start_execution

    def capture(**params: Any) -> Any:
        inputs.append({**json.loads(params["input"]), "name": params["name"]})
        return original(**params)

    app.sfn_client.start_execution = capture
    return inputs


def test_a_batch_starts_one_load_per_19_files_with_duplicates_dropped(app, context) -> None:
    records = [record(f"m{n}", s3_event(f"sales/f{n:02d}.csv")) for n in range(39)]
    records.append(record("again", s3_event("sales/f03.csv")))
    inputs = started_inputs(app, 3)
    response = app.lambda_handler({"Records": records}, context)
    assert response == {"batchItemFailures": []}
    assert [len(i.get("files", [None])) for i in inputs] == [19, 19, 1]
    assert inputs[0]["pipeline"] == "ingest_sales_batch" and inputs[0]["parameters"] == {"bucket": BUCKET}
    assert inputs[0]["files"][3] == {"object_key": "sales/f03.csv", "etag": "e1"}
    assert inputs[2]["pipeline"] == "ingest_sales"
    assert inputs[2]["parameters"] == {"bucket": BUCKET, "object_key": "sales/f38.csv", "etag": "e1"}
    app.sfn_stub.assert_no_pending_responses()


def test_a_malformed_message_is_a_batch_item_failure_and_the_rest_load(app, context) -> None:
    records = [
        record("good", s3_event("sales/a.csv")),
        record("not-json", "{"),
        record(
            "no-etag", json.dumps({"detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}}})
        ),
    ]
    inputs = started_inputs(app, 1)
    response = app.lambda_handler({"Records": records}, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "not-json"}, {"itemIdentifier": "no-etag"}]}
    assert [i["parameters"]["object_key"] for i in inputs] == ["sales/a.csv"]


def test_a_redelivered_batch_gets_the_same_name_and_starts_nothing_new(app, context) -> None:
    records = [record("m1", s3_event("sales/a.csv")), record("m2", s3_event("sales/b.csv"))]
    first = started_inputs(app, 1)
    app.lambda_handler({"Records": records}, context)
    again = started_inputs(app, 1, closed=True)
    assert app.lambda_handler({"Records": list(reversed(records))}, context) == {"batchItemFailures": []}
    assert first[0]["name"] == again[0]["name"]


def test_the_same_files_get_the_same_names_whatever_messages_carried_them(app, context) -> None:
    # A standard queue delivers at least once and a redelivery may group messages differently
    # ("Amazon SQS at-least-once delivery"); StartExecution refuses a name already used
    # (ExecutionAlreadyExists) and a name is at most 80 characters
    # (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
    keys = [f"sales/f{n:02d}.csv" for n in range(21)]
    first = started_inputs(app, 2)
    app.lambda_handler({"Records": [record(f"m{n}", s3_event(k)) for n, k in enumerate(keys)]}, context)
    names = [i["name"] for i in first]
    shuffled = [record(f"redelivered-{n}", s3_event(k)) for n, k in enumerate(reversed(keys))]
    shuffled.insert(5, record("duplicate", s3_event(keys[7])))
    again = started_inputs(app, 2, closed=True)
    assert app.lambda_handler({"Records": shuffled}, context) == {"batchItemFailures": []}
    assert names == [i["name"] for i in again]
    assert [f["object_key"] for f in first[0]["files"]] == keys[:19], "chunks of the files in key order"
    assert len(set(names)) == 2 and all(len(name) <= 80 for name in names)
    other_version = started_inputs(app, 1)
    app.lambda_handler({"Records": [record("m", s3_event(keys[19], etag="e2"))]}, context)
    assert other_version[0]["name"] not in names


def test_a_failed_start_returns_only_that_runs_messages(app, context) -> None:
    records = [record("m1", s3_event("sales/a.csv"))]
    app.sfn_stub.add_client_error("start_execution", "ThrottlingException")
    assert app.lambda_handler({"Records": records}, context) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }


def test_a_failed_batch_starts_again_in_halves_down_to_per_file_loads(app, context) -> None:
    files = [{"object_key": f"sales/f{n}.csv", "etag": "e1"} for n in range(3)]
    failed_input = {"pipeline": "ingest_sales_batch", "parameters": {"bucket": BUCKET}, "files": files}
    app.sfn_stub.add_response(
        "describe_execution",
        {
            "executionArn": f"{MACHINE}:b",
            "stateMachineArn": MACHINE,
            "status": "FAILED",
            "startDate": datetime(2026, 11, 6, tzinfo=UTC),
            "input": json.dumps(failed_input),
        },
        {"executionArn": f"{MACHINE}:b"},
    )
    inputs = started_inputs(app, 2)
    event = {
        "detail": {"pipeline": "ingest_sales_batch", "execution_name": "b", "execution_arn": f"{MACHINE}:b"}
    }
    started = app.lambda_handler(event, context)["started"]
    assert inputs[0]["pipeline"] == "ingest_sales" and inputs[0]["parameters"]["object_key"] == "sales/f0.csv"
    assert inputs[1]["files"] == files[1:]
    assert len(set(started)) == 2 and all(len(name) <= 80 for name in started)


def test_a_failed_batch_of_one_runs_its_file_alone(app, context) -> None:
    failed_input = {
        "pipeline": "ingest_sales_batch",
        "parameters": {"bucket": BUCKET},
        "files": [{"object_key": "sales/only.csv", "etag": "e1"}],
    }
    app.sfn_stub.add_response(
        "describe_execution",
        {
            "executionArn": f"{MACHINE}:one",
            "stateMachineArn": MACHINE,
            "status": "FAILED",
            "startDate": datetime(2026, 11, 6, tzinfo=UTC),
            "input": json.dumps(failed_input),
        },
    )
    inputs = started_inputs(app, 1)
    event = {"detail": {"execution_name": "one", "execution_arn": f"{MACHINE}:one"}}
    assert len(app.lambda_handler(event, context)["started"]) == 1
    assert (
        inputs[0]["pipeline"] == "ingest_sales" and inputs[0]["parameters"]["object_key"] == "sales/only.csv"
    )
