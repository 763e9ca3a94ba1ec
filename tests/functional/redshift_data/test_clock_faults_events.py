"""WaitTimeSeconds, simulated durations and expiry on the virtual clock; fault injection; events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.clock import VirtualClock
from rsetl.redshift_data import Limits, local_workgroup_id

TARGET = {"WorkgroupName": "local-wg", "Database": "dev"}
HOUR = 3600


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def endpoint(make_endpoint: Callable[..., Any], clock: VirtualClock) -> Any:
    return make_endpoint(clock=clock)


@pytest.fixture
def api(endpoint: Any, make_client: Callable[..., Any]) -> Any:
    return make_client(endpoint.url)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_wait_time_seconds_holds_until_the_statement_ends(client: Any) -> None:
    submitted = client.execute_statement(Sql="SELECT pg_sleep(0.3)", WaitTimeSeconds=10, **TARGET)
    assert submitted["Status"] == "FINISHED"
    assert submitted["HasResultSet"] is True
    assert submitted["RedshiftPid"] > 0


def test_wait_time_seconds_returns_the_current_status_when_time_is_up(client: Any) -> None:
    submitted = client.execute_statement(Sql="SELECT pg_sleep(30)", WaitTimeSeconds=1, **TARGET)
    assert submitted["Status"] == "STARTED"
    client.cancel_statement(Id=submitted["Id"])


def test_simulated_one_hour_statement_on_the_virtual_clock(
    endpoint: Any, api: Any, clock: VirtualClock
) -> None:
    endpoint.service.faults.simulate_duration(r"/\* hour-long \*/", HOUR)
    submitted = api.execute_statement(Sql="SELECT 1 /* hour-long */", **TARGET)
    started = clock.now()
    waited = api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=30)
    assert waited["Status"] == "STARTED"
    assert clock.now() - started >= timedelta(seconds=30)
    assert clock.now() - started < timedelta(seconds=60)
    clock.advance(HOUR)
    # The held transaction commits right after the simulated end; a short long poll sees it.
    described = api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=1)
    assert described["Status"] == "FINISHED"
    assert HOUR * 10**9 <= described["Duration"] < (HOUR + 60) * 10**9
    assert api.get_statement_result(Id=submitted["Id"])["Records"] == [[{"longValue": 1}]]


def test_polling_a_24_hour_statement_advances_virtual_time(
    endpoint: Any, api: Any, clock: VirtualClock
) -> None:
    endpoint.service.faults.simulate_duration("nightly", 24 * HOUR)
    submitted = api.execute_statement(Sql="SELECT 'nightly'", **TARGET)
    polls = 0
    while api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=30)["Status"] != "FINISHED":
        polls += 1
    assert polls == pytest.approx(24 * HOUR / 30, abs=2)


def test_cancel_during_a_simulated_duration(endpoint: Any, api: Any) -> None:
    endpoint.service.faults.simulate_duration("slowpoke", HOUR)
    submitted = api.execute_statement(Sql="SELECT 'slowpoke'", **TARGET)
    assert api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=5)["Status"] == "STARTED"
    assert api.cancel_statement(Id=submitted["Id"])["Status"] is True
    assert api.describe_statement(Id=submitted["Id"])["Status"] == "ABORTED"


def test_results_expire_after_24_hours(endpoint: Any, api: Any, clock: VirtualClock) -> None:
    submitted = api.execute_statement(Sql="SELECT 1", WaitTimeSeconds=10, **TARGET)
    before = endpoint.service.statement_count
    clock.advance(23 * HOUR)
    assert api.describe_statement(Id=submitted["Id"])["Status"] == "FINISHED"
    clock.advance(HOUR + 1)
    for call in (api.describe_statement, api.get_statement_result):
        with pytest.raises(ClientError) as error:
            call(Id=submitted["Id"])
        assert _code(error) == "ResourceNotFoundException"
    assert endpoint.service.sweep() == 1
    assert endpoint.service.statement_count == before - 1


def test_injected_errors_for_the_next_calls(endpoint: Any, api: Any) -> None:
    faults = endpoint.service.faults
    faults.fail_next("ExecuteStatement", "DatabaseConnectionException", "Database unreachable", count=2)
    faults.fail_next("DescribeStatement", "ValidationException", "nope")
    for _ in range(2):
        with pytest.raises(ClientError) as error:
            api.execute_statement(Sql="SELECT 1", **TARGET)
        assert _code(error) == "DatabaseConnectionException"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    submitted = api.execute_statement(Sql="SELECT 1", **TARGET)
    with pytest.raises(ClientError) as error:
        api.describe_statement(Id=submitted["Id"])
    assert _code(error) == "ValidationException"
    assert api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=10)["Status"] == "FINISHED"


def test_injected_internal_error(endpoint: Any, api: Any) -> None:
    endpoint.service.faults.fail_next("ListStatements", "InternalServerException")
    with pytest.raises(ClientError) as error:
        api.list_statements()
    assert _code(error) == "InternalServerException"
    assert api.list_statements()["Statements"] == []


def test_injected_delay_passes_on_the_clock(endpoint: Any, api: Any, clock: VirtualClock) -> None:
    endpoint.service.faults.delay("ListStatements", 45)
    before = clock.now()
    api.list_statements()
    assert clock.now() - before >= timedelta(seconds=45)


def test_throttling_per_operation(endpoint: Any, api: Any, clock: VirtualClock) -> None:
    endpoint.service.limits.requests_per_second["ListStatements"] = 2
    api.list_statements()
    api.list_statements()
    with pytest.raises(ClientError) as error:
        api.list_statements()
    assert _code(error) == "ThrottlingException"
    api.list_databases(WorkgroupName="local-wg", Database="dev")
    clock.advance(1)
    api.list_statements()


def test_active_statement_limit(make_endpoint: Callable[..., Any], make_client: Callable[..., Any]) -> None:
    client = make_client(make_endpoint(limits=Limits(max_active_statements=1)).url)
    running = client.execute_statement(Sql="SELECT pg_sleep(30)", **TARGET)
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql="SELECT 1", **TARGET)
    assert _code(error) == "ActiveStatementsExceededException"
    client.cancel_statement(Id=running["Id"])
    assert client.execute_statement(Sql="SELECT 1", WaitTimeSeconds=10, **TARGET)["Status"] == "FINISHED"


def test_forced_final_statuses_and_unknown_status(endpoint: Any, api: Any) -> None:
    faults = endpoint.service.faults
    faults.force_status("doomed", "FAILED", "ERROR: disk full")
    faults.force_status("stopped", "ABORTED")
    faults.unknown_status("mystery", "QUEUED")
    failed = api.execute_statement(Sql="SELECT 'doomed'", WaitTimeSeconds=10, **TARGET)
    assert failed["Status"] == "FAILED"
    assert api.describe_statement(Id=failed["Id"])["Error"] == "ERROR: disk full"
    aborted = api.execute_statement(Sql="SELECT 'stopped'", WaitTimeSeconds=10, **TARGET)
    assert aborted["Status"] == "ABORTED"
    odd = api.execute_statement(Sql="SELECT 'mystery'", WaitTimeSeconds=10, **TARGET)
    assert api.describe_statement(Id=odd["Id"])["Status"] == "QUEUED"
    faults.clear()
    assert api.execute_statement(Sql="SELECT 'doomed'", WaitTimeSeconds=10, **TARGET)["Status"] == "FINISHED"


def test_with_event_publishes_status_change(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any], clock: VirtualClock
) -> None:
    entries: list[dict[str, Any]] = []
    endpoint = make_endpoint(clock=clock, event_sink=entries.append)
    api = make_client(endpoint.url)
    ok = api.execute_statement(
        Sql="SELECT generate_series(1, 3)", StatementName="evt", WithEvent=True, WaitTimeSeconds=10, **TARGET
    )
    bad = api.execute_statement(Sql="SELECT * FROM missing_t", WithEvent=True, WaitTimeSeconds=10, **TARGET)
    api.execute_statement(Sql="SELECT 1", WaitTimeSeconds=10, **TARGET)
    assert [entry["Source"] for entry in entries] == ["aws.redshift-data"] * 2
    assert entries[0]["DetailType"] == "Redshift Data Statement Status Change"
    # A workgroup's ARN ends in its ID ("Actions, resources, and condition keys for Amazon Redshift
    # Serverless", resource type workgroup: `...:workgroup/${WorkgroupId}`).
    assert entries[0]["Resources"] == [
        f"arn:aws:redshift-serverless:us-east-1:000000000000:workgroup/{local_workgroup_id('local-wg')}"
    ]
    first, second = (json.loads(entry["Detail"]) for entry in entries)
    assert first["statementId"] == ok["Id"]
    assert first["statementName"] == "evt"
    assert first["state"] == "FINISHED"
    assert first["rows"] == 3
    assert first["redshiftQueryId"] > 0
    assert first["principal"].endswith("test")
    assert first["expireAt"] == int((entries[0]["Time"] + timedelta(hours=24)).timestamp())
    assert (second["statementId"], second["state"], second["rows"]) == (bad["Id"], "FAILED", -1)


def test_event_of_a_simulated_statement_waits_for_its_end(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any], clock: VirtualClock
) -> None:
    entries: list[dict[str, Any]] = []
    endpoint = make_endpoint(clock=clock, event_sink=entries.append)
    endpoint.service.faults.simulate_duration("long one", HOUR)
    api = make_client(endpoint.url)
    submitted = api.execute_statement(Sql="SELECT 'long one'", WithEvent=True, WaitTimeSeconds=5, **TARGET)
    endpoint.service.sweep()
    assert entries == []
    clock.advance(HOUR)
    api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=1)
    endpoint.service.sweep()
    assert json.loads(entries[0]["Detail"])["state"] == "FINISHED"


def test_statements_past_the_maximum_run_time_are_aborted(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any], clock: VirtualClock
) -> None:
    endpoint = make_endpoint(clock=clock, limits=Limits(max_statement_seconds=60))
    api = make_client(endpoint.url)
    submitted = api.execute_statement(Sql="SELECT pg_sleep(30)", **TARGET)
    assert api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=1)["Status"] == "STARTED"
    clock.advance(61)
    endpoint.service.sweep()
    assert api.describe_statement(Id=submitted["Id"], WaitTimeSeconds=10)["Status"] == "ABORTED"
