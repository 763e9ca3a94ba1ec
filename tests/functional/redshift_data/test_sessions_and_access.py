"""Sessions, ClientToken idempotency, principal scoping, signatures and request validation."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.clock import VirtualClock
from rsetl.redshift_data import Limits

TARGET = {"ClusterIdentifier": "local-cluster", "Database": "dev"}


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_temp_table_survives_within_a_session(client: Any) -> None:
    first = client.execute_statement(
        Sql="CREATE TEMP TABLE scratch AS SELECT 5 AS v",
        SessionKeepAliveSeconds=60,
        WaitTimeSeconds=10,
        **TARGET,
    )
    session_id = first["SessionId"]
    assert client.describe_statement(Id=first["Id"])["Status"] == "FINISHED"
    again = client.execute_statement(Sql="SELECT v FROM scratch", SessionId=session_id, WaitTimeSeconds=10)
    assert client.describe_statement(Id=again["Id"])["SessionId"] == session_id
    assert client.get_statement_result(Id=again["Id"])["Records"] == [[{"longValue": 5}]]
    outside = client.execute_statement(Sql="SELECT v FROM scratch", WaitTimeSeconds=10, **TARGET)
    assert client.describe_statement(Id=outside["Id"])["Status"] == "FAILED"
    sessions = client.list_sessions(SessionId=session_id)["Sessions"]
    assert [(s["SessionId"], s["Status"], s["SessionAliveSeconds"]) for s in sessions] == [
        (session_id, "AVAILABLE", 60)
    ]


def test_temp_tables_do_not_leak_between_statements_outside_sessions(client: Any) -> None:
    name = f"leak_{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        made = client.execute_statement(Sql=f"CREATE TEMP TABLE {name} (v int)", WaitTimeSeconds=10, **TARGET)
        assert client.describe_statement(Id=made["Id"])["Status"] == "FINISHED"


def test_temp_tables_a_procedure_makes_do_not_leak_between_statements_outside_sessions(client: Any) -> None:
    """Outside a session each statement runs in a session of its own, which ends with it ("Using the
    Amazon Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html); a
    temporary table lives as long as its session, also one a stored procedure creates ("CREATE
    TABLE", TEMPORARY, https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html)."""
    name = f"leak_{uuid.uuid4().hex[:8]}"
    body = f"BEGIN CREATE TEMP TABLE {name} (v int); END;"
    made = client.execute_statement(
        Sql=f"CREATE PROCEDURE {name}_p() AS $$ {body} $$ LANGUAGE plpgsql", WaitTimeSeconds=10, **TARGET
    )
    assert client.describe_statement(Id=made["Id"])["Status"] == "FINISHED"
    for _ in range(3):
        called = client.execute_statement(Sql=f"CALL {name}_p()", WaitTimeSeconds=10, **TARGET)
        described = client.describe_statement(Id=called["Id"])
        assert described["Status"] == "FINISHED", described.get("Error")


def test_busy_session_refuses_a_second_statement(client: Any) -> None:
    first = client.execute_statement(Sql="SELECT pg_sleep(30)", SessionKeepAliveSeconds=60, **TARGET)
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql="SELECT 1", SessionId=first["SessionId"])
    assert _code(error) == "ValidationException"
    assert "busy" in error.value.response["Error"]["Message"]
    busy = client.list_sessions(SessionId=first["SessionId"])["Sessions"][0]
    assert busy["Status"] == "BUSY"
    assert busy["CurrentStatementId"] == first["Id"]
    client.cancel_statement(Id=first["Id"])
    after = client.execute_statement(Sql="SELECT 1", SessionId=first["SessionId"], WaitTimeSeconds=10)
    assert client.describe_statement(Id=after["Id"])["Status"] == "FINISHED"


def test_active_sessions_limit(make_endpoint: Callable[..., Any], make_client: Callable[..., Any]) -> None:
    client = make_client(make_endpoint(limits=Limits(max_active_sessions=1)).url)
    client.execute_statement(Sql="SELECT 1", SessionKeepAliveSeconds=60, WaitTimeSeconds=10, **TARGET)
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql="SELECT 1", SessionKeepAliveSeconds=60, **TARGET)
    assert _code(error) == "ActiveSessionsExceededException"


def test_session_expires_after_keep_alive_on_the_clock(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    clock = VirtualClock()
    endpoint = make_endpoint(clock=clock)
    client = make_client(endpoint.url)
    first = client.execute_statement(
        Sql="SELECT 1", SessionKeepAliveSeconds=120, WaitTimeSeconds=10, **TARGET
    )
    clock.advance(100)
    client.execute_statement(Sql="SELECT 2", SessionId=first["SessionId"], WaitTimeSeconds=10)
    clock.advance(121)
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql="SELECT 3", SessionId=first["SessionId"])
    assert _code(error) == "ResourceNotFoundException"
    endpoint.service.sweep()
    assert client.list_sessions()["Sessions"] == []
    assert client.list_sessions(Status="CLOSED")["Sessions"][0]["SessionId"] == first["SessionId"]


def test_client_token_makes_a_submit_idempotent(client: Any) -> None:
    table = f"tok_{uuid.uuid4().hex[:8]}"
    client.execute_statement(Sql=f"CREATE TABLE {table} (v int)", WaitTimeSeconds=10, **TARGET)
    token = str(uuid.uuid4())
    sql = f"INSERT INTO {table} VALUES (1)"
    first = client.execute_statement(Sql=sql, ClientToken=token, WaitTimeSeconds=10, **TARGET)
    retry = client.execute_statement(Sql=sql, ClientToken=token, WaitTimeSeconds=10, **TARGET)
    assert retry["Id"] == first["Id"]
    count = client.execute_statement(Sql=f"SELECT count(*) FROM {table}", WaitTimeSeconds=10, **TARGET)
    assert client.get_statement_result(Id=count["Id"])["Records"] == [[{"longValue": 1}]]
    with pytest.raises(ClientError) as error:
        client.execute_statement(Sql=f"INSERT INTO {table} VALUES (2)", ClientToken=token, **TARGET)
    assert _code(error) == "ValidationException"
    assert token in error.value.response["Error"]["Message"]


def test_a_principal_sees_only_its_own_statements(
    client: Any, shared_endpoint: Any, make_client: Any
) -> None:
    mine = client.execute_statement(Sql="SELECT 1", StatementName="scoped", WaitTimeSeconds=10, **TARGET)
    other = make_client(shared_endpoint.url, key="other")
    for call in (other.describe_statement, other.get_statement_result, other.cancel_statement):
        with pytest.raises(ClientError) as error:
            call(Id=mine["Id"])
        assert _code(error) == "ResourceNotFoundException"
    assert all(s["Id"] != mine["Id"] for s in other.list_statements()["Statements"])
    assert any(s["Id"] == mine["Id"] for s in client.list_statements()["Statements"])


def test_signatures_are_verified(shared_endpoint: Any, make_client: Any) -> None:
    with pytest.raises(ClientError) as error:
        make_client(shared_endpoint.url, key="test", secret="not-the-secret").list_statements()
    assert _code(error) == "InvalidSignatureException"
    with pytest.raises(ClientError) as error:
        make_client(shared_endpoint.url, key="nobody").list_statements()
    assert _code(error) == "UnrecognizedClientException"
    request = urllib.request.Request(
        shared_endpoint.url,
        data=b"{}",
        headers={"X-Amz-Target": "RedshiftData.ListStatements", "Content-Type": "application/x-amz-json-1.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=10)
    assert http_error.value.code == 403
    assert json.loads(http_error.value.read())["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Sql": "SELECT 1", "Database": "dev"}, "Either ClusterIdentifier or WorkgroupName"),
        (
            {"Sql": "SELECT 1", "ClusterIdentifier": "c1", "WorkgroupName": "wg1", "Database": "dev"},
            "cannot be specified together",
        ),
        ({"Sql": "x" * (100 * 1024 + 1), **TARGET}, "maximum size"),
        ({"Sql": "SELECT 1", "WaitTimeSeconds": 45, **TARGET}, "less than or equal to 30"),
        ({"Sql": "SELECT 1", "SessionKeepAliveSeconds": 86401, **TARGET}, "less than or equal to 86400"),
        ({"Sql": "SELECT 1", "ResultFormat": "XML", **TARGET}, "enum value set"),
    ],
)
def test_invalid_execute_requests(client: Any, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as error:
        client.execute_statement(**params)
    assert _code(error) == "ValidationException"
    assert message in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invalid_batch_requests(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        client.batch_execute_statement(Sqls=["SELECT 1"] * 41, **TARGET)
    assert "less than or equal to 40" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        client.batch_execute_statement(Sqls=["SELECT 1"], ExecutionMode="SOMETIMES", **TARGET)
    assert _code(error) == "ValidationException"


def test_unknown_statement_id(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        client.describe_statement(Id=str(uuid.uuid4()))
    assert _code(error) == "ResourceNotFoundException"
