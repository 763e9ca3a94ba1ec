"""QuarantineFile with botocore's Stubber: ledger row through the Data API, then the S3 move."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from botocore.stub import ANY
from etl_common import DataApiError, InputError
from etl_common.quarantine import RECORD_FAILED_LOAD_SQL, metadata_value

REPO = Path(__file__).resolve().parents[3]
STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def event() -> dict:
    return json.loads((REPO / "events" / "pipeline-failed-ingest-sales.json").read_text())


@pytest.fixture
def app(load_handler, stubbed, monkeypatch):
    module = load_handler("quarantine_file")
    data_api, module.data_api_stub = stubbed("redshift-data")
    s3, module.s3_stub = stubbed("s3")
    monkeypatch.setattr(module, "redshift_data", lambda: data_api)
    monkeypatch.setattr(module, "s3", lambda: s3)
    return module


def expect_ledger(app, event: dict, status: str = "FINISHED") -> None:
    detail = event["detail"]
    app.data_api_stub.add_response(
        "execute_statement",
        {"Id": STATEMENT_ID},
        {
            "Database": "dev",
            "WorkgroupName": "default-workgroup",
            "StatementName": f"{detail['execution_name']}.record_failed_load",
            "ClientToken": hashlib.sha256(
                f"{detail['execution_arn']}\nrecord_failed_load\n0".encode()
            ).hexdigest(),
            "Sql": RECORD_FAILED_LOAD_SQL,
            "Parameters": [
                {"name": "bucket", "value": "rsetl-landing-example"},
                {"name": "object_key", "value": "sales/2024/03/01/store-0043.csv"},
                {"name": "etag", "value": "e4d909c290d0fb1ca068ffaddf22cbd0"},
                {"name": "pipeline", "value": "ingest_sales"},
                {"name": "execution_name", "value": detail["execution_name"]},
                {"name": "error_message", "value": f"load_file: FAILED: {detail['error']}"},
            ],
            "WaitTimeSeconds": 30,
        },
    )
    extra = {"Error": "ERROR: procedure does not exist"} if status == "FAILED" else {}
    app.data_api_stub.add_response(
        "describe_statement",
        {"Id": STATEMENT_ID, "Status": status, **extra},
        {"Id": STATEMENT_ID, "WaitTimeSeconds": 30},
    )


def test_failed_file_is_recorded_and_moved_to_quarantine(app, context, event) -> None:
    expect_ledger(app, event)
    key = "sales/2024/03/01/store-0043.csv"
    app.s3_stub.add_response(
        "copy_object",
        {},
        {
            "Bucket": "rsetl-landing-example",
            "Key": f"quarantine/{key}",
            "CopySource": {"Bucket": "rsetl-landing-example", "Key": key},
            "CopySourceIfMatch": "e4d909c290d0fb1ca068ffaddf22cbd0",
            "MetadataDirective": "REPLACE",
            "Metadata": ANY,
        },
    )
    app.s3_stub.add_response(
        "delete_object",
        {},
        {"Bucket": "rsetl-landing-example", "Key": key, "IfMatch": "e4d909c290d0fb1ca068ffaddf22cbd0"},
    )
    result = app.lambda_handler(event, context)
    assert result == {"ledger_statement_id": STATEMENT_ID, "quarantine_key": f"quarantine/{key}"}


def test_error_metadata_is_printable_ascii_and_bounded() -> None:
    assert metadata_value("café\nline") == "caf??line"
    assert len(metadata_value("x" * 5000)) == 1024


@pytest.mark.parametrize("code", ["NoSuchKey", "PreconditionFailed"])
def test_a_file_already_gone_or_replaced_is_left_alone(app, context, event, code: str) -> None:
    expect_ledger(app, event)
    app.s3_stub.add_client_error("copy_object", service_error_code=code)
    assert app.lambda_handler(event, context)["quarantine_key"] is None


def test_a_failed_ledger_call_stops_before_moving_the_file(app, context, event) -> None:
    expect_ledger(app, event, status="FAILED")
    with pytest.raises(DataApiError, match="ERROR: procedure does not exist"):
        app.lambda_handler(event, context)


def test_event_without_the_file_parameters_is_refused(app, context, event) -> None:
    event["detail"]["parameters"] = {"bucket": "rsetl-landing-example"}
    with pytest.raises(InputError, match="lacks parameters object_key, etag"):
        app.lambda_handler(event, context)
