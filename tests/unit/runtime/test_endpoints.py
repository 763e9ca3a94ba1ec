"""The variables that point a Lambda's boto3 clients at the local endpoint."""

from __future__ import annotations

import boto3
import pytest

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext, Router
from rsetl.runtime.admin import SIGNING_NAME
from rsetl.runtime.endpoints import EMULATED_SERVICES, check_served, endpoint_variable, local_aws_environment

URL = "http://127.0.0.1:4566"


def test_every_emulated_service_gets_its_botocore_endpoint_variable() -> None:
    environment = local_aws_environment(URL, "eu-west-1", "test", "secret")

    assert environment == {
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": URL,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": URL,
        "AWS_ENDPOINT_URL_SFN": URL,
        "AWS_ENDPOINT_URL_S3": URL,
        "AWS_ENDPOINT_URL_SQS": URL,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": URL,
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


class _Served:
    """A service as the router registers it: a signing name, and a JSON service's botocore name."""

    def __init__(self, signing_name: str, service_name: str | None = None) -> None:
        self.signing_name = signing_name
        if service_name is not None:
            self.service_name = service_name

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        raise AssertionError("not called")

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        raise AssertionError("not called")


def _router(*services: _Served) -> Router:
    router = Router()
    for service in services:
        router.register(service)
    return router


# The local endpoint's services as the runtime registers them, by signing name and botocore name.
_RUNTIME_SERVICES = (
    _Served("redshift-data", "redshift-data"),
    _Served("events", "events"),
    _Served("states", "stepfunctions"),
    _Served("sqs"),
    _Served("cloudformation"),
    _Served(SIGNING_NAME),
    _Served("s3"),
)


def test_the_router_names_its_aws_services_by_botocore_name_leaving_out_the_runtime_s_own() -> None:
    assert _router(*_RUNTIME_SERVICES).aws_services == set(EMULATED_SERVICES)


def test_a_router_serving_exactly_the_emulated_services_passes_the_check() -> None:
    check_served(_router(*_RUNTIME_SERVICES))


def test_an_endpoint_variable_for_a_service_the_router_does_not_serve_is_refused() -> None:
    without_sqs = [service for service in _RUNTIME_SERVICES if service.signing_name != "sqs"]

    with pytest.raises(RuntimeError, match=r"not served \['sqs'\]"):
        check_served(_router(*without_sqs))


def test_a_served_service_without_an_endpoint_variable_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"without an endpoint variable \['lambda'\]"):
        check_served(_router(*_RUNTIME_SERVICES, _Served("lambda")))
