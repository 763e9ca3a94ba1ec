"""Whatever a key or a database message holds, a failed ingest is recorded and its file quarantined.

The quarantine records the error through Data API `Parameters`, which the Data API binds as values
("Passing SQL statement parameters", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-calling.html):
quotes and backslashes (`\\'`, which Redshift's dialect reads as an escaped quote inside a literal)
must reach the ledger as written.
"""

from __future__ import annotations

import pytest
from reliability_support import (
    HEADER,
    executions_for,
    landing_bucket,
    pipeline_events,
    query,
    sales_csv,
    settle,
    upload,
)

from rsetl.runtime import LocalRuntime


def _failed_rows(runtime: LocalRuntime, key: str) -> list[tuple[str, str]]:
    return [
        (str(status), str(message))
        for status, message in query(
            runtime, "SELECT status, error_message FROM etl.load_ledger WHERE object_key = %s", key
        )
    ]


def _assert_quarantined(runtime: LocalRuntime, key: str) -> None:
    bucket = landing_bucket(runtime)
    assert runtime.s3.list_keys(bucket, f"quarantine/{key}") == [f"quarantine/{key}"]
    assert runtime.s3.list_keys(bucket, key) == [], "the failed file left the landing prefix"


@pytest.mark.parametrize(
    "key",
    ["sales/2026/11/11/o\\'brien.csv", "sales/2026/11/11/back\\slash.csv", "sales/2026/11/11/q'uote.csv"],
)
def test_a_key_with_quotes_or_backslashes_is_recorded_and_quarantined(
    runtime: LocalRuntime, key: str
) -> None:
    upload(runtime, key, sales_csv(f"texts-{key}", 2))
    settle(runtime)
    (run,) = executions_for(runtime, key)
    if "\\" in key:
        assert run.status == "FAILED", "the ingest refuses a key with a backslash (no COPY can name it)"
        ((status, message),) = _failed_rows(runtime, key)
        assert status == "FAILED" and "backslash" in message
        _assert_quarantined(runtime, key)
    else:
        assert run.status == "SUCCEEDED", run.cause


def test_a_database_message_with_an_escaped_quote_is_recorded_and_quarantined(runtime: LocalRuntime) -> None:
    key = "sales/2026/11/11/bad-currency.csv"
    body = f"{HEADER}\nTXT-1,1,2026-11-06 10:00:00,ST001,SKU-100001,C1,1,2.50,0.00,\\'x\n".encode()
    upload(runtime, key, body)
    settle(runtime)
    (event,) = pipeline_events(runtime, "Pipeline Failed", key)
    assert "unknown currency (e.g. \\'x)" in event["error"]
    ((status, message),) = _failed_rows(runtime, key)
    assert status == "FAILED" and "unknown currency (e.g. \\'x)" in message
    _assert_quarantined(runtime, key)
