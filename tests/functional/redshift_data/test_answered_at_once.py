"""Which Data API requests the endpoint's server may answer on its event loop (from memory)."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message
from typing import Any

from rsetl.awsproto import AwsRequest
from rsetl.redshift_data import Limits, LocalRedshiftData

TARGET = {"ClusterIdentifier": "local", "Database": "dev"}


def _request(operation: str, **params: Any) -> AwsRequest:
    headers = Message()
    headers["X-Amz-Target"] = f"RedshiftData.{operation}"
    return AwsRequest("POST", "/", "", headers, json.dumps(params).encode())


def test_a_result_page_held_in_memory_is_answered_at_once_and_what_may_wait_is_not(
    make_endpoint: Callable[..., LocalRedshiftData], make_client: Callable[..., Any]
) -> None:
    """GetStatementResult of a result held in memory reads no database and no file: answered at once.
    ExecuteStatement (runs SQL), a read with WaitTimeSeconds (waits for the statement), a result
    spilled to its file, and a read with an injected delay go to the server's thread pool."""
    endpoint = make_endpoint(limits=Limits(result_memory_bytes=1024))
    client = make_client(endpoint.url)
    small = client.execute_statement(Sql="select 1 as one", WaitTimeSeconds=30, **TARGET)["Id"]
    spilled = client.execute_statement(
        Sql="select repeat('x', 100) as text from generate_series(1, 100)", WaitTimeSeconds=30, **TARGET
    )["Id"]
    service = endpoint.service

    assert service.answers_at_once(_request("GetStatementResult", Id=small))
    assert not service.answers_at_once(_request("GetStatementResult", Id=spilled))
    assert not service.answers_at_once(_request("GetStatementResult", Id=small, WaitTimeSeconds=5))
    assert not service.answers_at_once(_request("ExecuteStatement", Sql="select 1", **TARGET))
    service.faults.delay("GetStatementResult", 0.5)
    assert not service.answers_at_once(_request("GetStatementResult", Id=small))
