"""Routing on the shared port: S3 answers only what is S3's; other services are named as not emulated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router
from rsetl.s3 import S3Service


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    service = S3Service()
    service.create_bucket("landing")
    router = Router()
    router.register(service, fallback=True)
    with LocalServer(router) as server:
        yield server.url


RoutedService = Literal["s3", "sqs", "sns", "lambda", "route53"]
"""The services these tests call; boto3's stubs type a client by its service's literal name."""


def _client(name: RoutedService, url: str, **config: Any) -> Any:
    return boto3.client(
        name, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, **config),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("sqs", lambda client: client.list_queues(), "UnknownOperationException"),  # JSON 1.0
        ("sns", lambda client: client.list_topics(), "InvalidAction"),  # query
        ("lambda", lambda client: client.list_functions(), "UnknownOperationException"),  # REST-JSON
        ("route53", lambda client: client.list_hosted_zones(), "UnknownOperationException"),  # REST-XML
    ],
)
def test_a_service_that_is_not_emulated_is_named_in_an_error(endpoint: str, service, call, code) -> None:
    """A client of another service gets an error it can parse that names the service, not S3's answer."""
    with pytest.raises(ClientError) as caught:
        call(_client(service, endpoint))
    error = caught.value.response["Error"]
    assert error["Code"] == code
    assert f"does not emulate the service '{service}'" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_requests_signed_for_s3_and_unsigned_ones_reach_s3(endpoint: str) -> None:
    assert [b["Name"] for b in _client("s3", endpoint).list_buckets()["Buckets"]] == ["landing"]
    with pytest.raises(ClientError) as caught:
        _client("s3", endpoint, signature_version=UNSIGNED).get_object(Bucket="landing", Key="k")
    # S3's own refusal of an anonymous request to a private bucket: 403 AccessDenied ("Error
    # responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList).
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
