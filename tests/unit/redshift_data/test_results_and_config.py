"""Result encoding and paging, fault and limit configuration, events and statement views (no database)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rsetl.clock import VirtualClock
from rsetl.errors import ServiceError
from rsetl.redshift_data import DatabaseLogin, Faults, Limits
from rsetl.redshift_data.config import RateLimiter
from rsetl.redshift_data.connections import error_text
from rsetl.redshift_data.events import status_change_entry
from rsetl.redshift_data.results import ResultSet, ResultTooLarge, ResultWriter, to_field, to_text
from rsetl.redshift_data.statements import Statement, Status, SubStatement
from rsetl.redshift_sql import ColumnInfo, parse_script

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def column(name: str, redshift_type: str, **attributes: Any) -> ColumnInfo:
    """A result column as the SQL layer describes it (its label is its name)."""
    return ColumnInfo(name, name, redshift_type, **attributes)


@pytest.mark.parametrize(
    ("value", "type_name", "field"),
    [
        (None, "int4", {"isNull": True}),
        (True, "bool", {"booleanValue": True}),
        (7, "int8", {"longValue": 7}),
        (7, "numeric", {"stringValue": "7"}),
        (Decimal("1.50"), "numeric", {"stringValue": "1.50"}),
        (2.5, "float8", {"doubleValue": 2.5}),
        (float("nan"), "float8", {"stringValue": "NaN"}),
        (float("-inf"), "float8", {"stringValue": "-Infinity"}),
        (b"\x00\x01", "varbyte", {"blobValue": b"\x00\x01"}),
        ("text", "varchar", {"stringValue": "text"}),
        (date(2024, 5, 6), "date", {"stringValue": "2024-05-06"}),
        ({"a": [1]}, "super", {"stringValue": '{"a":[1]}'}),
    ],
)
def test_fields(value: object, type_name: str, field: dict[str, object]) -> None:
    assert to_field(value, type_name) == field


def test_timestamps_as_redshift_prints_them() -> None:
    assert to_text(datetime(2024, 5, 6, 7, 8, 9)) == "2024-05-06 07:08:09"
    assert to_text(datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC)) == "2024-05-06 07:08:09.120000+00"
    assert to_text(datetime(2024, 5, 6, 7, 8, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == (
        "2024-05-06 07:08:00+05:30"
    )


def build(
    columns: list[ColumnInfo],
    rows: list[tuple[Any, ...]],
    spill_path: Path,
    result_format: str = "JSON",
    *,
    result_page_bytes: int = Limits.result_page_bytes,
    result_memory_bytes: int = Limits.result_memory_bytes,
) -> ResultSet:
    """A result as the executor builds it: rows streamed into a writer in chunks of 7."""
    limits = Limits(result_page_bytes=result_page_bytes, result_memory_bytes=result_memory_bytes)
    writer = ResultWriter(spill_path, result_format, limits)
    writer.begin([column.type_name for column in columns])
    for start in range(0, len(rows), 7):
        writer.add(rows[start : start + 7])
    return writer.finish(columns)


def all_pages(result: ResultSet, statement_id: str = "stmt-1") -> list[int]:
    indexes: list[int] = []
    token: str | None = None
    while True:
        index, token = result.page(token, statement_id)
        indexes.append(index)
        if token is None:
            return indexes


def test_result_pages_cover_every_row_once(tmp_path: Path) -> None:
    rows = [(n, f"row {n}") for n in range(1000)]
    result = build(
        [column("id", "int4"), column("label", "varchar")], rows, tmp_path / "r", result_page_bytes=1000
    )
    pages = all_pages(result)
    seen = [record[0]["longValue"] for index in pages for record in result.records(index)]
    assert seen == list(range(1000))
    assert len(pages) == len(result.pages) > 10
    assert result.total_rows == 1000 and result.size > 1000 * 10
    assert result.data is not None and not (tmp_path / "r").exists()


def test_a_result_past_the_memory_threshold_is_served_from_its_file(tmp_path: Path) -> None:
    """Rows past `result_memory_bytes` go to the spill file; every page, JSON or CSV, reads back
    exactly, blobs and NULLs included."""
    rows = [(n, f'row {n}, "quoted"\nline', bytes([n % 256, 0]), None) for n in range(2000)]
    columns = [
        column("id", "int4"),
        column("label", "varchar"),
        column("raw", "varbyte"),
        column("z", "int4"),
    ]
    spilled = build(columns, rows, tmp_path / "json", result_page_bytes=4096, result_memory_bytes=10_000)
    assert (
        spilled.data is None
        and spilled.path == tmp_path / "json"
        and spilled.path.stat().st_size == spilled.size
    )
    records = [record for index in all_pages(spilled) for record in spilled.records(index)]
    assert records == [
        [{"longValue": n}, {"stringValue": label}, {"blobValue": raw}, {"isNull": True}]
        for n, label, raw, _ in rows
    ]
    as_csv = build(columns, rows, tmp_path / "csv", "CSV", result_page_bytes=4096, result_memory_bytes=10_000)
    assert as_csv.data is None
    text = "".join(as_csv.csv(index) for index in all_pages(as_csv))
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["id", "label", "raw", "z"]
    assert parsed[1:] == [[str(n), label, raw.hex(), ""] for n, label, raw, _ in rows]
    spilled.discard()
    assert not (tmp_path / "json").exists()
    with pytest.raises(ServiceError) as expired:
        spilled.records(0)
    assert expired.value.code == "ResourceNotFoundException", "a read racing the expiry"


def test_a_row_or_a_result_past_the_data_api_limits_is_refused(tmp_path: Path) -> None:
    """ "Troubleshooting issues for Amazon Redshift Data API"
    (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-troubleshooting.html): "The Data API
    size limit is 64 KB per row" ("Packet for query is too large") and "The Data API limit is 500 MB
    in the result set returned by the database" ("Database response exceeded size limit")."""
    writer = ResultWriter(tmp_path / "r", "JSON", Limits())
    writer.begin(["varchar"])
    writer.add([("x" * 64_000,)])
    with pytest.raises(ResultTooLarge, match=r"^Packet for query is too large$"):
        writer.add([("x" * 64_001,)])
    small = ResultWriter(tmp_path / "s", "JSON", Limits(max_result_bytes=1000, result_memory_bytes=100))
    small.begin(["varchar"])
    small.add([("x" * 500,), ("y" * 500,)])
    with pytest.raises(ResultTooLarge, match=r"^Database response exceeded size limit$"):
        small.add([("z",)])
    small.discard()
    assert not (tmp_path / "s").exists()


def test_tokens_belong_to_their_statement(tmp_path: Path) -> None:
    result = build([column("id", "int4")], [(n,) for n in range(100)], tmp_path / "r", result_page_bytes=100)
    _, token = result.page(None, "stmt-1")
    assert token is not None
    with pytest.raises(ServiceError) as error:
        result.page(token, "stmt-2")
    assert error.value.code == "ValidationException"
    with pytest.raises(ServiceError):
        result.page("%%%", "stmt-1")


def test_empty_result_has_one_empty_page(tmp_path: Path) -> None:
    result = build([column("id", "int4")], [], tmp_path / "r", result_page_bytes=100)
    assert result.page(None, "s") == (0, None)
    assert result.records(0) == []
    assert result.csv(0) == "id\n"


def test_column_metadata_names(tmp_path: Path) -> None:
    price = column("price", "numeric", precision=10, scale=2, nullable=0, schema_name="sales", table_name="t")
    metadata = build([price], [], tmp_path / "r").columns[0]
    assert metadata["typeName"] == "numeric"
    assert (metadata["precision"], metadata["scale"], metadata["nullable"]) == (10, 2, 0)
    assert (metadata["schemaName"], metadata["tableName"], metadata["label"]) == ("sales", "t", "price")


def test_injected_errors_are_consumed_in_order() -> None:
    faults = Faults()
    faults.fail_next("ExecuteStatement", "InternalServerException", count=2)
    faults.fail_next("ExecuteStatement", "ValidationException", "bad")
    taken = [faults.take_error("ExecuteStatement") for _ in range(4)]
    assert [(e.code, e.status) for e in taken if e] == [
        ("InternalServerException", 500),
        ("InternalServerException", 500),
        ("ValidationException", 400),
    ]
    assert taken[3] is None
    assert faults.take_error("DescribeStatement") is None


def test_statement_faults_merge_by_pattern() -> None:
    faults = Faults()
    faults.simulate_duration("copy", 60)
    faults.unknown_status("COPY sales", "QUEUED")
    merged = faults.for_sql("copy sales.fact FROM 's3://b/k'")
    assert merged is not None
    assert (merged.duration, merged.unknown_status) == (60, "QUEUED")
    assert faults.for_sql("SELECT 1") is None
    with pytest.raises(ValueError):
        faults.force_status("x", "FINISHED")
    faults.delay("ListStatements", 3)
    assert faults.delay_for("ListStatements") == 3
    faults.clear()
    assert faults.for_sql("copy") is None
    assert faults.delay_for("ListStatements") == 0


def test_rate_limiter_is_a_token_bucket_on_the_clock() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(clock)
    assert [limiter.allow("Op", 2) for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert [limiter.allow("Op", 2) for _ in range(2)] == [True, False]
    assert all(limiter.allow("Other", None) for _ in range(100))


def test_error_text_from_connection_failures() -> None:
    error = Exception('connection failed: FATAL:  database "x" does not exist\n')
    assert error_text(error) == 'FATAL: database "x" does not exist'
    assert error_text(Exception("boom")) == "ERROR: boom"


def test_status_change_event_detail() -> None:
    entry = status_change_entry(
        principal_arn="arn:aws:iam::000000000000:user/test",
        resource_arn="arn:aws:redshift:us-east-1:000000000000:cluster:c1",
        statement_id="abc",
        statement_name=None,
        redshift_query_id=12,
        state="FAILED",
        rows=5,
        time=T0,
        expire_at=T0 + timedelta(days=1),
    )
    detail = json.loads(entry["Detail"])
    assert detail == {
        "principal": "arn:aws:iam::000000000000:user/test",
        "statementName": "",
        "statementId": "abc",
        "redshiftQueryId": -1,
        "state": "FAILED",
        "rows": -1,
        "expireAt": int((T0 + timedelta(days=1)).timestamp()),
    }
    assert (entry["Source"], entry["DetailType"]) == (
        "aws.redshift-data",
        "Redshift Data Statement Status Change",
    )


def test_simulated_duration_shows_started_until_its_end() -> None:
    faults = Faults()
    faults.simulate_duration("long", 3600)
    stmt = Statement(
        id="s",
        seq=1,
        principal="test",
        request={"Sql": "SELECT 'long'"},
        subs=[SubStatement("s", "SELECT 'long'", T0, T0, parse_script("SELECT 'long'"))],
        is_batch=False,
        created_at=T0,
        fault=faults.for_sql("SELECT 'long'"),
        login=DatabaseLogin("awsuser"),
    )
    assert stmt.describe(T0)["Duration"] == -1
    stmt.started_at = T0
    stmt.finished_at = T0 + timedelta(seconds=1)
    stmt.status = Status.FINISHED
    assert stmt.shown_status(T0 + timedelta(seconds=10)) == Status.STARTED
    assert stmt.describe(T0 + timedelta(seconds=10))["ResultRows"] == -1
    assert stmt.shown_status(T0 + timedelta(seconds=3600)) == Status.FINISHED
    assert stmt.duration_ns() == 3600 * 10**9
