"""Statements, batches and results through the real boto3 client against the local Data API."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.redshift_data import Limits

TARGET = {"ClusterIdentifier": "local-cluster", "Database": "dev", "DbUser": "awsuser"}


def _table() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def _run(client: Any, sql: str, **extra: Any) -> dict[str, Any]:
    submitted = client.execute_statement(Sql=sql, WaitTimeSeconds=10, **TARGET, **extra)
    return client.describe_statement(Id=submitted["Id"])


def test_execute_describe_and_result_with_redshift_types(client: Any) -> None:
    sql = (
        "SELECT 1::int4 AS i, 'x'::varchar AS v, 1.50::numeric(5,2) AS n, true AS b, 2.5::float8 AS f,"
        " NULL::int4 AS z, '2024-05-06 07:08:09'::timestamp AS ts, '2024-05-06'::date AS d,"
        " 'ab'::varbyte AS blob"
    )
    described = _run(client, sql, StatementName="types")
    assert described["Status"] == "FINISHED"
    assert described["HasResultSet"] is True
    assert described["ResultRows"] == 1
    assert described["ResultSize"] > 0
    assert described["Duration"] > 0
    assert described["RedshiftPid"] > 0
    assert described["RedshiftQueryId"] > 0
    assert described["QueryString"] == sql
    result = client.get_statement_result(Id=described["Id"])
    assert result["TotalNumRows"] == 1
    assert [c["typeName"] for c in result["ColumnMetadata"]] == [
        "int4", "varchar", "numeric", "bool", "float8", "int4", "timestamp", "date", "varbyte",
    ]  # fmt: skip
    assert result["Records"][0] == [
        {"longValue": 1},
        {"stringValue": "x"},
        {"stringValue": "1.50"},
        {"booleanValue": True},
        {"doubleValue": 2.5},
        {"isNull": True},
        {"stringValue": "2024-05-06 07:08:09"},
        {"stringValue": "2024-05-06"},
        {"blobValue": b"ab"},
    ]


def test_failed_statement_reports_redshift_like_error(client: Any) -> None:
    described = _run(client, "SELECT * FROM no_such_table_here")
    assert described["Status"] == "FAILED"
    assert described["Error"] == 'ERROR: relation "no_such_table_here" does not exist'
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=described["Id"])
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert dict(error.value.response).get("ResourceId") == described["Id"]


def test_an_unknown_statement_names_itself_as_the_missing_resource(client: Any) -> None:
    # The model's ResourceNotFoundException requires `ResourceId` beside `Message`; botocore parses
    # the modeled members of an error into the response (Redshift Data API Reference, Errors,
    # https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html#API_DescribeStatement_Errors).
    unknown = "3b2e51d4-0c0e-4f53-8a5e-0a3a3f0b6c11"
    with pytest.raises(ClientError) as error:
        client.describe_statement(Id=unknown)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert dict(error.value.response).get("ResourceId") == unknown


def test_unknown_database_fails_the_statement(client: Any) -> None:
    submitted = client.execute_statement(
        Sql="SELECT 1", ClusterIdentifier="local-cluster", Database="nodb", WaitTimeSeconds=10
    )
    described = client.describe_statement(Id=submitted["Id"])
    assert described["Status"] == "FAILED"
    assert described["Error"] == 'FATAL: database "nodb" does not exist'


def test_parameters_are_bound(client: Any) -> None:
    parameters = [{"name": "who", "value": "O'Brien"}, {"name": "n", "value": "41"}]
    described = _run(client, "SELECT :who AS who, :n::int + 1 AS n", Parameters=parameters)
    assert described["QueryParameters"] == parameters
    records = client.get_statement_result(Id=described["Id"])["Records"]
    assert records == [[{"stringValue": "O'Brien"}, {"longValue": 42}]]


@pytest.mark.parametrize(
    "value",
    [
        "x\\', 1 AS injected --",
        "x\\'; DROP TABLE {table}; --",
        "x'); DROP TABLE {table}; --",
        "it's $1 %s :other",
    ],
)
def test_parameter_values_are_bound_as_data_never_as_sql(client: Any, value: str) -> None:
    """A value is bound to the statement, not pasted into its text: no quote or backslash escapes it.

    SqlParameter (https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_SqlParameter.html):
    the value is a string that "Amazon Redshift implicitly converts to the proper data type".
    """
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int)")
    value = value.format(table=table)
    described = _run(client, "SELECT :v AS v", Parameters=[{"name": "v", "value": value}])
    assert described["Status"] == "FINISHED", described.get("Error")
    result = client.get_statement_result(Id=described["Id"])
    assert [c["name"] for c in result["ColumnMetadata"]] == ["v"]
    assert result["Records"] == [[{"stringValue": value}]]
    assert _run(client, f"SELECT count(*) FROM {table}")["Status"] == "FINISHED"


def test_parameters_take_the_type_their_context_gives(client: Any) -> None:
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int, day date, amount decimal(8, 2))")
    inserted = _run(
        client,
        f"INSERT INTO {table} VALUES (:id, :day, :amount)",
        Parameters=[
            {"name": "id", "value": "7"},
            {"name": "day", "value": "2024-02-29"},
            {"name": "amount", "value": "12.5"},
        ],
    )
    assert inserted["Status"] == "FINISHED", inserted.get("Error")
    found = _run(
        client, f"SELECT amount FROM {table} WHERE id = :id", Parameters=[{"name": "id", "value": "7"}]
    )
    assert client.get_statement_result(Id=found["Id"])["Records"] == [[{"stringValue": "12.50"}]]


def test_parameters_with_several_commands_fail_as_on_redshift(client: Any) -> None:
    """Redshift runs a parameterized text as one prepared statement and refuses a second command in it.

    ExecuteStatement (https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ExecuteStatement.html):
    "This statement must be a single SQL statement."
    """
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int)")
    described = _run(client, f"SELECT :v; DROP TABLE {table}", Parameters=[{"name": "v", "value": "1"}])
    assert described["Status"] == "FAILED"
    assert described["Error"] == "ERROR: cannot insert multiple commands into a prepared statement"
    assert _run(client, f"SELECT count(*) FROM {table}")["Status"] == "FINISHED"


def test_dml_reports_rows_affected(client: Any) -> None:
    table = _table()
    assert _run(client, f"CREATE TABLE {table} (id int)")["Status"] == "FINISHED"
    described = _run(client, f"INSERT INTO {table} SELECT generate_series(1, 7)")
    assert described["ResultRows"] == 7
    assert described["HasResultSet"] is False


def _batch(client: Any, sqls: list[str], **extra: Any) -> dict[str, Any]:
    submitted = client.batch_execute_statement(Sqls=sqls, WaitTimeSeconds=10, **TARGET, **extra)
    return client.describe_statement(Id=submitted["Id"])


def _count(client: Any, table: str) -> int:
    described = _run(client, f"SELECT count(*) FROM {table}")
    return int(client.get_statement_result(Id=described["Id"])["Records"][0][0]["longValue"])


def test_batch_in_transaction_mode_rolls_back_everything(client: Any) -> None:
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int)")
    described = _batch(
        client,
        [f"INSERT INTO {table} VALUES (1)", f"INSERT INTO {table} VALUES (2)", "INSERT INTO nope VALUES (3)"],
    )
    assert described["Status"] == "FAILED"
    assert described["Error"] == 'ERROR: relation "nope" does not exist'
    subs = described["SubStatements"]
    assert [s["Id"] for s in subs] == [f"{described['Id']}:{n}" for n in (1, 2, 3)]
    assert [s["Status"] for s in subs] == ["FINISHED", "FINISHED", "FAILED"]
    assert _count(client, table) == 0


def test_batch_auto_commit_keeps_statements_before_the_failure(client: Any) -> None:
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int)")
    described = _batch(
        client,
        [f"INSERT INTO {table} VALUES (1)", "INSERT INTO nope VALUES (2)", f"INSERT INTO {table} VALUES (3)"],
        ExecutionMode="AUTO_COMMIT",
    )
    assert described["Status"] == "FAILED"
    assert [s["Status"] for s in described["SubStatements"]] == ["FINISHED", "FAILED", "ABORTED"]
    assert _count(client, table) == 1


def test_batch_results_are_read_by_sub_statement_id(client: Any) -> None:
    described = _batch(client, ["SELECT 1 AS a", "SELECT 'two' AS b"])
    assert described["Status"] == "FINISHED"
    assert described["ExecutionMode"] == "TRANSACTION"
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=described["Id"])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    second = client.get_statement_result(Id=f"{described['Id']}:2")
    assert second["Records"] == [[{"stringValue": "two"}]]
    sub = client.describe_statement(Id=f"{described['Id']}:1")
    assert sub["Status"] == "FINISHED"
    assert sub["QueryString"] == "SELECT 1 AS a"


def test_pagination_over_a_result_larger_than_a_page(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(limits=Limits(result_page_bytes=4096))
    client = make_client(endpoint.url)
    described = _run(client, "SELECT g AS id, 'row ' || g AS label FROM generate_series(1, 3000) g")
    pages = list(client.get_paginator("get_statement_result").paginate(Id=described["Id"]))
    assert len(pages) > 5
    ids = [record[0]["longValue"] for page in pages for record in page["Records"]]
    assert ids == list(range(1, 3001))
    assert all(page["TotalNumRows"] == 3000 for page in pages)
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=described["Id"], NextToken="bm90LWEtdG9rZW4=")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_csv_results_with_get_statement_result_v2(
    make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(limits=Limits(result_page_bytes=2048))
    client = make_client(endpoint.url)
    described = _run(
        client,
        "SELECT g AS id, 'a,b' AS txt, NULL::int AS z FROM generate_series(1, 500) g",
        ResultFormat="CSV",
    )
    pages = list(client.get_paginator("get_statement_result_v2").paginate(Id=described["Id"]))
    text = "".join(page["Records"][0]["CSVRecords"] for page in pages)
    lines = text.splitlines()
    assert lines[0] == "id,txt,z"
    assert lines[1] == '1,"a,b",'
    assert len(lines) == 501
    assert pages[0]["ResultFormat"] == "CSV"
    with pytest.raises(ClientError) as error:
        client.get_statement_result(Id=described["Id"])
    assert error.value.response["Error"]["Code"] == "ValidationException"


def _wait_for(client: Any, statement_id: str, status: str) -> None:
    for _ in range(200):
        if client.describe_statement(Id=statement_id)["Status"] == status:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"statement never reached {status}")


def test_cancel_stops_a_running_query(client: Any) -> None:
    submitted = client.execute_statement(Sql="SELECT pg_sleep(60)", **TARGET)
    _wait_for(client, submitted["Id"], "STARTED")
    assert client.cancel_statement(Id=submitted["Id"])["Status"] is True
    described = client.describe_statement(Id=submitted["Id"])
    assert described["Status"] == "ABORTED"
    assert described["Duration"] < 30 * 10**9
    with pytest.raises(ClientError) as error:
        client.cancel_statement(Id=submitted["Id"])
    assert error.value.response["Error"]["Code"] == "ValidationException"


class GatedPostgres:
    """Holds every new connection until the test opens the gate, to observe PICKED."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()

    def conninfo(self, database: str) -> str:
        self.gate.wait(30)
        return str(self.inner.conninfo(database))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_submitted_and_picked_statuses(
    postgres: Any, make_endpoint: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    gated = GatedPostgres(postgres)
    endpoint = make_endpoint(server=gated, workers=1)
    client = make_client(endpoint.url)
    first = client.execute_statement(Sql="SELECT 1", **TARGET)
    second = client.execute_statement(Sql="SELECT 2", **TARGET)
    _wait_for(client, first["Id"], "PICKED")
    assert client.describe_statement(Id=second["Id"])["Status"] == "SUBMITTED"
    assert client.cancel_statement(Id=second["Id"])["Status"] is True
    gated.gate.set()
    assert client.describe_statement(Id=first["Id"], WaitTimeSeconds=10)["Status"] == "FINISHED"
    assert client.describe_statement(Id=second["Id"], WaitTimeSeconds=10)["Status"] == "ABORTED"


def test_list_statements_filters_and_pages(client: Any) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    ids = [
        client.execute_statement(
            Sql=f"SELECT {n}", StatementName=f"{prefix}-{n}", WaitTimeSeconds=10, **TARGET
        )["Id"]
        for n in range(5)
    ]
    client.batch_execute_statement(Sqls=["SELECT 1", "SELECT 2"], StatementName=f"{prefix}-b", **TARGET)
    pages = list(
        client.get_paginator("list_statements").paginate(
            StatementName=prefix, PaginationConfig={"PageSize": 2}
        )
    )
    listed = [s for page in pages for s in page["Statements"]]
    assert len(pages) == 3
    assert [s["Id"] for s in listed[1:]] == ids[::-1]
    assert listed[0]["IsBatchStatement"] is True
    assert listed[0]["QueryStrings"] == ["SELECT 1", "SELECT 2"]
    finished = client.list_statements(StatementName=f"{prefix}-3", Status="FINISHED")["Statements"]
    assert [s["Id"] for s in finished] == [ids[3]]
    assert client.list_statements(StatementName=prefix, ClusterIdentifier="elsewhere")["Statements"] == []


def test_batch_parameters_are_shared_and_each_statement_binds_its_own(client: Any) -> None:
    table = _table()
    _run(client, f"CREATE TABLE {table} (id int, label varchar(20))")
    described = _batch(
        client,
        [f"INSERT INTO {table} VALUES (:id, 'first')", f"UPDATE {table} SET label = :label WHERE id = :id"],
        Parameters=[{"name": "id", "value": "7"}, {"name": "label", "value": "second"}],
    )
    assert described["Status"] == "FINISHED"
    result = _run(client, f"SELECT label FROM {table} WHERE id = 7")
    assert client.get_statement_result(Id=result["Id"])["Records"] == [[{"stringValue": "second"}]]


def test_batch_parameter_no_statement_references_is_refused(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        client.batch_execute_statement(
            Sqls=["SELECT :a", "SELECT 1"],
            Parameters=[{"name": "a", "value": "1"}, {"name": "unused", "value": "2"}],
            **TARGET,
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "not referenced: unused" in caught.value.response["Error"]["Message"]
