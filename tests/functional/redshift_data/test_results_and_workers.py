"""Large results kept in files until they expire, AWS's result size limits, and how many statements
run at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.clock import VirtualClock
from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_data import STATEMENT_WORKERS, Limits, RedshiftDataService
from rsetl.redshift_sql import RedshiftSqlRunner

TARGET = {"ClusterIdentifier": "local-cluster", "Database": "dev", "DbUser": "awsuser"}
SPILLING = Limits(result_memory_bytes=64 * 1024, result_page_bytes=32 * 1024)
ROWS = "SELECT g AS id, 'row ' || g AS label FROM generate_series(1, 20000) g"


def _wait_for(client: Any, statement_id: str, status: str) -> None:
    for _ in range(500):
        if client.describe_statement(Id=statement_id)["Status"] == status:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"statement {statement_id} never reached {status}")


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_large_result_is_served_page_by_page_from_its_file(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """A result past `result_memory_bytes` is written to the service's results folder as it streams
    from PostgreSQL; GetStatementResult and GetStatementResultV2 page through it in order."""
    endpoint = make_endpoint(limits=SPILLING)
    client = make_client(endpoint.url)
    as_json = client.execute_statement(Sql=ROWS, WaitTimeSeconds=20, **TARGET)
    as_csv = client.execute_statement(Sql=ROWS, WaitTimeSeconds=20, ResultFormat="CSV", **TARGET)
    results_dir: Path = endpoint.service.results_dir
    assert sorted(path.name for path in results_dir.iterdir()) == sorted([as_json["Id"], as_csv["Id"]])

    pages = list(client.get_paginator("get_statement_result").paginate(Id=as_json["Id"]))
    assert len(pages) > 10
    assert [record[0]["longValue"] for page in pages for record in page["Records"]] == list(range(1, 20001))
    assert pages[-1]["Records"][-1][1] == {"stringValue": "row 20000"}
    assert {page["TotalNumRows"] for page in pages} == {20000}

    csv_pages = list(client.get_paginator("get_statement_result_v2").paginate(Id=as_csv["Id"]))
    lines = "".join(page["Records"][0]["CSVRecords"] for page in csv_pages).splitlines()
    assert lines[0] == "id,label" and lines[1:] == [f"{n},row {n}" for n in range(1, 20001)]

    small = client.execute_statement(Sql="SELECT 1 AS one", WaitTimeSeconds=10, **TARGET)
    assert client.get_statement_result(Id=small["Id"])["Records"] == [[{"longValue": 1}]]
    assert not (results_dir / small["Id"]).exists(), "a small result stays in memory"


def test_a_result_file_is_deleted_when_the_result_expires(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """ "Query results are stored for 24 hours" ("Considerations when calling the Amazon Redshift
    Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html): after that the
    statement is gone and so is its file."""
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    endpoint = make_endpoint(clock=clock, limits=SPILLING)
    client = make_client(endpoint.url)
    statement = client.execute_statement(Sql=ROWS, WaitTimeSeconds=20, **TARGET)
    spilled = endpoint.service.results_dir / statement["Id"]
    assert spilled.exists()

    clock.advance(24 * 3600 - 1)
    assert endpoint.service.sweep() == 0 and spilled.exists()
    clock.advance(1)
    assert endpoint.service.sweep() == 1
    assert not spilled.exists()
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=statement["Id"])
    assert _code(error) == "ResourceNotFoundException"


def test_result_files_of_an_earlier_service_are_deleted_at_start(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Statements do not outlive their service, so the files it left behind (a `kill -9`) go at the
    next start; a service without a results folder owns a temporary one and deletes it on close."""
    results_dir = tmp_path / "redshift-data" / "results"
    results_dir.mkdir(parents=True)
    (results_dir / "2b8e0c5e-left-by-a-killed-service").write_bytes(b"[]\n")
    runner = RedshiftSqlRunner(MemoryObjectStore())
    service = RedshiftDataService(postgres.conninfo, runner, results_dir=results_dir)
    try:
        assert list(results_dir.iterdir()) == []
    finally:
        service.close()
    owning = RedshiftDataService(postgres.conninfo, runner)
    owned = owning.results_dir
    assert owned.is_dir()
    owning.close()
    assert not owned.exists()


def test_results_past_the_data_api_size_limits_fail_their_statement(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """ "Troubleshooting issues for Amazon Redshift Data API"
    (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-troubleshooting.html): "Packet for
    query is too large" past "64 KB per row", "Database response exceeded size limit" past "500 MB
    in the result set returned by the database" (here the limit is lowered to 100,000 bytes)."""
    endpoint = make_endpoint(limits=Limits(max_result_bytes=100_000, result_memory_bytes=10_000))
    client = make_client(endpoint.url)

    def run(sql: str) -> dict[str, Any]:
        submitted = client.execute_statement(Sql=sql, WaitTimeSeconds=20, **TARGET)
        return dict(client.describe_statement(Id=submitted["Id"]))

    assert run("SELECT repeat('x', 64000) AS wide")["Status"] == "FINISHED"
    wide = run("SELECT repeat('x', 64001) AS wide")
    assert (wide["Status"], wide["Error"]) == ("FAILED", "Packet for query is too large")
    assert run("SELECT repeat('x', 1000) FROM generate_series(1, 100)")["Status"] == "FINISHED"
    large = run("SELECT repeat('x', 1000) FROM generate_series(1, 101)")
    assert (large["Status"], large["Error"]) == ("FAILED", "Database response exceeded size limit")
    assert large["HasResultSet"] is False
    results_dir = endpoint.service.results_dir
    assert not (results_dir / wide["Id"]).exists() and not (results_dir / large["Id"]).exists()
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=large["Id"])
    assert _code(error) == "ResourceNotFoundException"
    assert run("SELECT 1")["Status"] == "FINISHED", "the connection is usable after a refused result"


def test_a_short_statement_finishes_beside_sixteen_long_ones(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """With the default worker count, sixteen statements in `pg_sleep` (the old limit's worth) do not
    hold up a `SELECT 1`, as short queries run beside long ones on Redshift."""
    client = make_client(make_endpoint().url)
    assert STATEMENT_WORKERS > 16
    long_ones = [client.execute_statement(Sql="SELECT pg_sleep(120)", **TARGET)["Id"] for _ in range(16)]
    for statement_id in long_ones:
        _wait_for(client, statement_id, "STARTED")
    short = client.execute_statement(Sql="SELECT 1", WaitTimeSeconds=20, **TARGET)
    assert client.describe_statement(Id=short["Id"])["Status"] == "FINISHED"
    for statement_id in long_ones:
        assert client.cancel_statement(Id=statement_id)["Status"] is True


def test_past_the_worker_limit_statements_wait_submitted(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """`workers` bounds the statements that run at once; the next waits SUBMITTED for a free one."""
    client = make_client(make_endpoint(workers=2).url)
    long_ones = [client.execute_statement(Sql="SELECT pg_sleep(120)", **TARGET)["Id"] for _ in range(2)]
    for statement_id in long_ones:
        _wait_for(client, statement_id, "STARTED")
    short = client.execute_statement(Sql="SELECT 1", **TARGET)
    assert client.describe_statement(Id=short["Id"])["Status"] == "SUBMITTED"
    client.cancel_statement(Id=long_ones[0])
    assert client.describe_statement(Id=short["Id"], WaitTimeSeconds=20)["Status"] == "FINISHED"
    client.cancel_statement(Id=long_ones[1])


def test_the_active_statement_quota_refuses_the_501st_with_aws_error(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    """ "The maximum number of active queries (STARTED and SUBMITTED queries) per Amazon Redshift
    cluster is 500" ("Considerations when calling the Amazon Redshift Data API",
    https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html); past it ExecuteStatement fails
    with ActiveStatementsExceededException (botocore's `redshift-data` model). Statements waiting
    for a worker count as active."""
    endpoint = make_endpoint(workers=1)
    assert endpoint.service.limits.max_active_statements == 500
    client = make_client(endpoint.url)
    sleeper = client.execute_statement(Sql="SELECT pg_sleep(120)", **TARGET)["Id"]
    _wait_for(client, sleeper, "STARTED")
    queued = [client.execute_statement(Sql=f"SELECT {n}", **TARGET)["Id"] for n in range(499)]
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql="SELECT 'one too many'", **TARGET)
    assert _code(error) == "ActiveStatementsExceededException"
    client.cancel_statement(Id=sleeper)
    assert client.describe_statement(Id=queued[-1], WaitTimeSeconds=30)["Status"] == "FINISHED"
    assert client.execute_statement(Sql="SELECT 1", WaitTimeSeconds=10, **TARGET)["Status"] == "FINISHED"
