"""The wire protocol as a non-SDK client sees it: signed raw HTTP requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zlib
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def _by_lower_name(headers: Any) -> dict[str, str]:
    """Header names are case-insensitive (RFC 9110, 5.1); the server sends them lower-cased."""
    return {name.lower(): value for name, value in headers.items()}


def _post(url: str, target: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials("test", "test"), "redshift-data", "us-east-1").add_auth(request)
    raw = urllib.request.Request(url + "/", data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=10) as response:
            status, headers, payload = response.status, _by_lower_name(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, _by_lower_name(error.headers), error.read()
    assert int(headers["x-amz-crc32"]) == zlib.crc32(payload) & 0xFFFFFFFF
    assert headers["x-amzn-requestid"]
    return status, headers, json.loads(payload)


def test_seed_rest_calls(shared_endpoint: Any) -> None:
    body = json.dumps({"ClusterIdentifier": "redshift-cluster-1", "Database": "dev", "DbUser": "awsuser"})
    status, headers, answer = _post(shared_endpoint.url, "RedshiftData.ListDatabases", body.encode())
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert "dev" in answer["Databases"]
    execute = json.dumps(
        {
            "ClusterIdentifier": "redshift-cluster-1",
            "Database": "dev",
            "DbUser": "awsuser",
            "Sql": "SELECT 1;",
        }
    )
    status, _, answer = _post(shared_endpoint.url, "RedshiftData.ExecuteStatement", execute.encode())
    assert status == 200
    assert isinstance(answer["CreatedAt"], float)
    assert len(answer["Id"]) == 36


def test_protocol_errors(shared_endpoint: Any) -> None:
    status, headers, answer = _post(shared_endpoint.url, "RedshiftData.DropEverything", b"{}")
    assert (status, answer["__type"]) == (400, "UnknownOperationException")
    status, headers, answer = _post(shared_endpoint.url, "RedshiftData.DescribeStatement", b"{not json")
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, headers, answer = _post(shared_endpoint.url, "RedshiftData.DescribeStatement", b"{}")
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert "'id' failed to satisfy constraint: Member must not be null" in answer["message"]
