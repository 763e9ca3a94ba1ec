"""The variables that point a Lambda's boto3 clients at the local endpoint."""

from __future__ import annotations

import boto3
import pytest

from rsetl.runtime.endpoints import EMULATED_SERVICES, endpoint_variable, local_aws_environment

URL = "http://127.0.0.1:4566"


def test_every_emulated_service_gets_its_botocore_endpoint_variable() -> None:
    environment = local_aws_environment(URL, "eu-west-1", "test", "secret")

    assert environment == {
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": URL,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": URL,
        "AWS_ENDPOINT_URL_SFN": URL,
        "AWS_ENDPOINT_URL_S3": URL,
        "AWS_ENDPOINT_URL_SQS": URL,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


@pytest.mark.parametrize("service", EMULATED_SERVICES)
def test_boto3_clients_pick_the_variables_up(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    for name, value in local_aws_environment(URL, "us-east-1", "test", "test").items():
        monkeypatch.setenv(name, value)

    client = boto3.session.Session().client(service)  # type: ignore[call-overload]

    assert client.meta.endpoint_url == URL
    assert endpoint_variable(service) in local_aws_environment(URL, "us-east-1", "test", "test")
