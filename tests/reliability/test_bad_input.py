"""Bad input: each gets a clear error, loses nothing, and never reaches SQL as text."""

from __future__ import annotations

import gzip
import json
import re
import urllib.request
from typing import Any
from urllib.error import HTTPError

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from reliability_support import (
    aws_client,
    executions_for,
    fact_rows,
    landing_bucket,
    ledger,
    pipeline_events,
    sales_csv,
    settle,
    statements_for,
    upload,
)

from rsetl.runtime import LocalRuntime


def start(runtime: LocalRuntime, payload: Any) -> dict[str, Any]:
    """Start RunPipeline by hand with `payload`; returns the failure event of the run."""
    sfn = aws_client(runtime, "stepfunctions")
    machine = runtime.template.resources["RunPipelineStateMachine"]
    arn = sfn.start_execution(stateMachineArn=str(machine.arn), input=json.dumps(payload))["executionArn"]
    settle(runtime)
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    (event,) = [
        r.event["detail"]
        for r in runtime.events.events()
        if r.event.get("detail-type") == "Pipeline Failed" and r.event["detail"].get("execution_arn") == arn
    ]
    assert event["step"] is None and event["statement_id"] is None
    return event


MANUAL_INPUTS = {
    "not an object": (["ingest_sales"], "InputError", r"(?i)input"),
    "no pipeline": ({"parameters": {}}, "InputError", r"pipeline"),
    "extra field": ({"pipeline": "nightly_sales_snapshot", "sql": "DROP TABLE x"}, "InputError", r"sql"),
    "bad pipeline name": ({"pipeline": "../../etc/passwd"}, "InputError", r"pipeline"),
    "unknown pipeline": ({"pipeline": "no_such_pipeline"}, "SpecError", r"no_such_pipeline"),
    "missing parameter": (
        {"pipeline": "ingest_sales", "parameters": {"bucket": "b"}},
        "InputError",
        "object_key",
    ),
    "unknown parameter": (
        {"pipeline": "nightly_sales_snapshot", "parameters": {"busines_date": "2026-11-01"}},
        "InputError",
        "busines_date",
    ),
    "bad date": (
        {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": "2026-13-45"}},
        "InputError",
        "business_date",
    ),
    "wrong type": (
        {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": 7}},
        "InputError",
        "",
    ),
}


@pytest.mark.parametrize("case", list(MANUAL_INPUTS))
def test_manual_start_with_bad_input_fails_clearly_before_any_sql(runtime: LocalRuntime, case: str) -> None:
    assert runtime.redshift_data is not None
    before = len(runtime.redshift_data.statements())
    payload, error_type, mentions = MANUAL_INPUTS[case]
    event = start(runtime, payload)
    assert event["error_type"] == error_type, event
    assert re.search(mentions, event["error"]), event["error"]
    assert len(runtime.redshift_data.statements()) == before


# -- S3 keys and file contents -----------------------------------------------------------------

ODD_KEYS = {
    "spaces": "sales/2026/11/06/a file with spaces.csv",
    "unicode": "sales/2026/11/06/ventes-été-東京-🚀.csv",
    "quote": "sales/2026/11/06/o'brien's file.csv",
    "long": "sales/2026/11/06/" + "x" * 900 + ".csv",
}


@pytest.mark.parametrize("name", list(ODD_KEYS))
def test_odd_but_valid_keys_load(runtime: LocalRuntime, name: str) -> None:
    key = ODD_KEYS[name]
    upload(runtime, key, sales_csv(f"key-{name}", 5))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.status == "SUCCEEDED", run.cause
    assert fact_rows(runtime, key) == 5
    assert ledger(runtime, key) == [("LOADED", 5)]


@pytest.mark.parametrize("key", ["sales/2026/../11/x.csv", "sales/2026//11/x.csv", "sales/a\\b.csv"])
def test_unsafe_keys_are_refused_before_any_sql(runtime: LocalRuntime, key: str) -> None:
    upload(runtime, key, sales_csv("unsafe", 3))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.status == "FAILED"
    assert statements_for(runtime, key) == []
    (event,) = pipeline_events(runtime, "Pipeline Failed", key)
    assert event["error_type"] in ("InputError", "UnsafeValueError"), event
    assert fact_rows(runtime, key) == 0


def test_a_header_only_file_loads_nothing_and_is_recorded(runtime: LocalRuntime) -> None:
    key = "sales/2026/11/06/header-only.csv"
    upload(runtime, key, sales_csv("header-only", 0))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.status == "SUCCEEDED", run.cause
    assert ledger(runtime, key) == [("LOADED", 0)]


@pytest.mark.parametrize("key", ["sales/2026/11/06/empty.csv", "sales/2026/11/06/"], ids=["empty", "folder"])
def test_zero_byte_objects_start_no_run(runtime: LocalRuntime, key: str) -> None:
    """The ingest rules match `detail.object.size` > 0 ("Numeric matching" in "Content filtering in
    Amazon EventBridge event patterns",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): the
    zero-byte "folder" object the S3 console creates (`sales/2026/11/06/`) would otherwise load every
    file under it, as COPY takes its key as a prefix."""
    upload(runtime, key, b"")
    settle(runtime)
    assert executions_for(runtime, key) == []
    assert ledger(runtime, key) == []


BAD_FILES = {
    "bad rows": (sales_csv("bad-rows", 10, bad_rows=3), r"(?i)quantity"),
    "not csv": (sales_csv("not-csv", 1) + b"\x00\x01\x02binary\xff\xfe\n", r"(?i)error"),
    "too many columns": (
        sales_csv("wide", 2) + b"a,1,2026-11-06 10:00:00,S,P,C,1,1,0,USD,extra\n",
        r"(?i)error",
    ),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_are_quarantined_with_the_error(runtime: LocalRuntime, name: str) -> None:
    body, error = BAD_FILES[name]
    key = f"sales/2026/11/06/bad-{name.replace(' ', '-')}.csv"
    upload(runtime, key, body)
    settle(runtime)
    (run,) = executions_for(runtime, key)
    assert run.status == "FAILED"
    (event,) = pipeline_events(runtime, "Pipeline Failed", key)
    assert re.search(error, event["error"]), event["error"]
    assert event["statement_id"]
    assert fact_rows(runtime, key) == 0
    assert [status for status, _ in ledger(runtime, key)] == ["FAILED"]
    assert runtime.s3.list_keys(landing_bucket(runtime), f"quarantine/{key}") == [f"quarantine/{key}"]


def test_gzip_that_is_not_gzip(runtime: LocalRuntime) -> None:
    key = "sales/2026/11/06/not-really.csv.gz"
    upload(runtime, key, sales_csv("not-gzip", 5))
    settle(runtime)
    (event,) = pipeline_events(runtime, "Pipeline Failed", key)
    assert re.search(r"(?i)gzip", event["error"]), event["error"]
    assert fact_rows(runtime, key) == 0
    assert [status for status, _ in ledger(runtime, key)] == ["FAILED"]


def test_real_gzip_and_a_file_far_larger_than_the_others(runtime: LocalRuntime) -> None:
    small = "sales/2026/11/06/small.csv.gz"
    large = "sales/2026/11/06/large.csv"
    upload(runtime, small, gzip.compress(sales_csv("small-gz", 10)))
    upload(runtime, large, sales_csv("large", 60_000))
    settle(runtime)
    assert ledger(runtime, small) == [("LOADED", 10)]
    assert ledger(runtime, large) == [("LOADED", 60_000)]
    assert fact_rows(runtime, large) == 60_000


# -- SQL injection through event values ---------------------------------------------------------

INJECTION = "x'); DROP TABLE etl.load_ledger; --"


def test_injection_in_a_key_reaches_sql_only_quoted(runtime: LocalRuntime) -> None:
    key = f"sales/2026/11/06/{INJECTION}.csv"
    upload(runtime, key, sales_csv("inject-key", 4))
    settle(runtime)
    (statement,) = statements_for(runtime, key.replace("'", "''"))
    copy_sql = next(sub.sql for sub in statement.subs if sub.sql.lstrip().upper().startswith("COPY"))
    assert f"/{INJECTION.replace(chr(39), chr(39) * 2)}.csv.manifest' IAM_ROLE" in copy_sql
    call_sql = next(sub.sql for sub in statement.subs if sub.sql.lstrip().upper().startswith("CALL"))
    assert INJECTION not in call_sql and ":object_key" in call_sql
    values = {p["name"]: p["value"] for p in statement.request["Parameters"]}
    assert values["object_key"] == key
    assert ledger(runtime, key) == [("LOADED", 4)]


def test_injection_in_a_manual_parameter_is_refused_or_bound(runtime: LocalRuntime) -> None:
    event = start(runtime, {"pipeline": "nightly_sales_snapshot", "parameters": {"business_date": INJECTION}})
    assert event["error_type"] == "InputError"
    assert runtime.postgres is not None
    assert ledger(runtime, "anything") == []  # etl.load_ledger still exists


# -- malformed requests to each local service ---------------------------------------------------

SERVICES = {
    "redshift-data": ("RedshiftData.ExecuteStatement", "application/x-amz-json-1.1"),
    "events": ("AWSEvents.PutEvents", "application/x-amz-json-1.1"),
    "states": ("AWSStepFunctions.StartExecution", "application/x-amz-json-1.0"),
}
BODIES = {
    "bad json": b"{not json",
    "wrong types": json.dumps({"Sql": 5, "Entries": "x", "stateMachineArn": ["a"], "Database": {}}).encode(),
    "huge": b'{"Sql": "' + b"a" * (7 * 1024 * 1024) + b'"}',
}


def signed(
    runtime: LocalRuntime, service: str, headers: dict[str, str], body: bytes
) -> urllib.request.Request:
    request = AWSRequest("POST", runtime.url + "/", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, runtime.template.region).add_auth(request)
    return urllib.request.Request(runtime.url + "/", data=body, headers=dict(request.headers), method="POST")


@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("body", list(BODIES))
def test_malformed_requests_get_an_aws_error(runtime: LocalRuntime, service: str, body: str) -> None:
    target, content_type = SERVICES[service]
    headers = {"X-Amz-Target": target, "Content-Type": content_type}
    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(signed(runtime, service, headers, BODIES[body]), timeout=30)
    assert 400 <= raised.value.code < 500
    error = json.loads(raised.value.read())
    assert error["__type"].rpartition("#")[2] in (
        "SerializationException",
        "ValidationException",
        "InvalidParameterValueException",
    ), error
    assert raised.value.headers["x-amzn-RequestId"]
    assert aws_client(runtime, "stepfunctions").list_state_machines()["stateMachines"]


def test_malformed_s3_request_gets_an_xml_error(runtime: LocalRuntime) -> None:
    request = signed(runtime, "s3", {"Content-Type": "application/xml"}, b"<Delete><nope")
    request.full_url = f"{runtime.url}/{landing_bucket(runtime)}?delete"
    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert 400 <= raised.value.code < 500
    assert b"<Error>" in raised.value.read()
