"""A dropped connection: the Data API hangs up before running a call, or after running it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

TARGET = {"WorkgroupName": "local-wg", "Database": "dev"}
DROPPED = (ConnectionClosedError, EndpointConnectionError)


def test_dropped_before_running_runs_nothing(make_endpoint: Callable[..., Any], make_client: Any) -> None:
    endpoint = make_endpoint()
    api = make_client(endpoint.url)
    endpoint.service.faults.drop_next("ExecuteStatement")
    with pytest.raises(DROPPED):
        api.execute_statement(Sql="SELECT 1", **TARGET)
    assert api.list_statements()["Statements"] == []
    assert api.execute_statement(Sql="SELECT 1", **TARGET)["Id"]


def test_dropped_after_running_keeps_the_statement_and_its_client_token(
    make_endpoint: Callable[..., Any], make_client: Any
) -> None:
    endpoint = make_endpoint()
    api = make_client(endpoint.url)
    endpoint.service.faults.drop_next("ExecuteStatement", after=True)
    with pytest.raises(DROPPED):
        api.execute_statement(Sql="SELECT 1", ClientToken="once", **TARGET)
    (ran,) = api.list_statements()["Statements"]
    again = api.execute_statement(Sql="SELECT 1", ClientToken="once", **TARGET)
    assert again["Id"] == ran["Id"]
    assert len(api.list_statements()["Statements"]) == 1


def test_clear_removes_pending_drops(make_endpoint: Callable[..., Any], make_client: Any) -> None:
    endpoint = make_endpoint()
    endpoint.service.faults.drop_next("DescribeStatement", count=3)
    endpoint.service.faults.clear()
    api = make_client(endpoint.url)
    submitted = api.execute_statement(Sql="SELECT 1", **TARGET)
    assert api.describe_statement(Id=submitted["Id"])["Id"] == submitted["Id"]
