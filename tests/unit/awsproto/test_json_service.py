"""The JSON protocol layer, exercised with the real boto3 client and with raw HTTP."""

from __future__ import annotations

import json
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from rsetl.awsproto import AwsError, JsonService, LocalServer, RequestContext, Router, SigV4Verifier

STATEMENT_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"


class EchoDataApi(JsonService):
    """A minimal redshift-data service: enough operations to exercise the protocol layer."""

    service_name = "redshift-data"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        self.calls.append((context.principal, params))
        return {"Id": "stmt-1", "CreatedAt": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "Database": "dev"}

    def cancel_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        raise AwsError("ResourceNotFoundException", f"Query {params['Id']} does not exist.")

    def describe_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        raise RuntimeError("boom")


@pytest.fixture
def service() -> EchoDataApi:
    return EchoDataApi()


@pytest.fixture
def endpoint(service: EchoDataApi) -> Iterator[str]:
    router = Router(SigV4Verifier({"test": "test", "other": "secret2"}))
    router.register(service)
    with LocalServer(router) as server:
        yield server.url


def _client(url: str, key: str = "test", secret: str = "test") -> Any:
    return boto3.client(
        "redshift-data",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


def test_signed_request_reaches_the_operation(endpoint: str, service: EchoDataApi) -> None:
    response = _client(endpoint, "other", "secret2").execute_statement(Sql="select 1", Database="dev")
    assert response["Id"] == "stmt-1"
    assert response["CreatedAt"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    principal, params = service.calls[0]
    assert principal == "other"
    assert params["Sql"] == "select 1"
    assert params["Database"] == "dev"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_wrong_secret_is_refused(endpoint: str, service: EchoDataApi) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint, "test", "wrong").execute_statement(Sql="select 1", Database="dev")
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert service.calls == []


def test_unknown_access_key_is_refused(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint, "nobody", "test").execute_statement(Sql="select 1", Database="dev")
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_constraint_violations_use_the_model(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).execute_statement(Sql="select 1", Database="dev", WaitTimeSeconds=45)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "'waitTimeSeconds'" in error["Message"]
    assert "less than or equal to 30" in error["Message"]


def test_missing_required_member(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).execute_statement(Database="dev")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Value null at 'sql'" in caught.value.response["Error"]["Message"]


def test_enum_violation(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).execute_statement(Sql="select 1", Database="dev", ResultFormat="XML")
    assert "enum value set: [JSON, CSV]" in caught.value.response["Error"]["Message"]


def test_wrong_type_is_a_serialization_error(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).execute_statement(Sql=7, Database="dev")
    assert caught.value.response["Error"]["Code"] == "SerializationException"


def test_client_side_validation_still_applies_with_the_default_config(endpoint: str) -> None:
    client = boto3.client(
        "redshift-data",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    without_sql: dict[str, Any] = {"Database": "dev"}
    with pytest.raises(ParamValidationError):
        client.execute_statement(**without_sql)


def test_service_errors_keep_their_code(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).cancel_statement(Id=STATEMENT_ID)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unexpected_failure_is_an_internal_error(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).describe_statement(Id=STATEMENT_ID)
    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def _raw_post(
    url: str, target: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"X-Amz-Target": target, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_unsigned_request_is_refused(endpoint: str) -> None:
    status, headers, body = _raw_post(endpoint, "RedshiftData.ExecuteStatement", b"{}")
    assert status == 403
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    assert headers["x-amz-crc32"] == str(zlib.crc32(body) & 0xFFFFFFFF)


def _signed_raw(url: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws_request = AWSRequest("POST", url + "/", data=body, headers={"X-Amz-Target": target})
    SigV4Auth(Credentials("test", "test"), "redshift-data", "us-east-1").add_auth(aws_request)
    return _raw_post(url + "/", target, body, dict(aws_request.headers.items()))


def test_bad_json_is_a_serialization_error(endpoint: str) -> None:
    status, _, body = _signed_raw(endpoint, "RedshiftData.ExecuteStatement", b"{not json")
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_pattern_violation(endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        _client(endpoint).describe_statement(Id="not-a-uuid")
    assert "regular expression pattern" in caught.value.response["Error"]["Message"]


def test_unknown_operation(endpoint: str) -> None:
    status, _, body = _signed_raw(endpoint, "RedshiftData.DropEverything", b"{}")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_server_listens_on_loopback_only(endpoint: str) -> None:
    assert endpoint.startswith("http://127.0.0.1:")
