"""Fixtures for the Lambda handler tests: the layer on sys.path, handler loading, Stubber clients."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import boto3
import pytest
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "layers" / "etl_common" / "python"))

StubbedService = Literal["redshift-data", "events", "s3"]
"""The services the handlers call; boto3's stubs type a client by its service's literal name."""


@dataclass
class FakeContext:
    """The parts of a Lambda context the handlers and Powertools read."""

    remaining_ms: int = 170_000
    function_name: str = "rsetl-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rsetl-test"
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PIPELINES_DIR": str(REPO / "pipelines"),
        "POWERTOOLS_SERVICE_NAME": "rsetl",
        "POWERTOOLS_METRICS_NAMESPACE": "rsetl",
        "AWS_DEFAULT_REGION": "us-east-1",
        "REDSHIFT_DATABASE": "dev",
        "REDSHIFT_WORKGROUP_NAME": "default-workgroup",
        "STEP_TIMEOUT_SECONDS": "3600",
        "EVENT_BUS_NAME": "rsetl-pipeline-events",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "REDSHIFT_CLUSTER_IDENTIFIER",
        "REDSHIFT_DB_USER",
        "REDSHIFT_SECRET_ARN",
        "COPY_IAM_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def load_handler() -> Callable[[str], ModuleType]:
    """Import ``functions/<name>/app.py`` under a module name of its own."""

    def load(name: str) -> ModuleType:
        path = REPO / "functions" / name / "app.py"
        spec = importlib.util.spec_from_file_location(f"rsetl_function_{name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def stubbed() -> Iterator[Callable[[StubbedService], tuple[Any, Stubber]]]:
    """A real boto3 client of a service with a Stubber activated on it (asserted empty at the end)."""
    stubbers: list[Stubber] = []

    def make(service: StubbedService) -> tuple[Any, Stubber]:
        client = boto3.client(
            service, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return client, stubber

    yield make
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.fixture
def stubbed_handler(
    load_handler: Callable[[str], ModuleType],
    stubbed: Callable[[StubbedService], tuple[Any, Stubber]],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str, str, StubbedService], ModuleType]:
    """A handler module whose client accessor returns a stubbed client (its Stubber as `.stubber`)."""

    def make(function: str, accessor: str, service: StubbedService) -> ModuleType:
        module = load_handler(function)
        client, stubber = stubbed(service)
        monkeypatch.setattr(module, accessor, lambda: client)
        vars(module)["stubber"] = stubber  # a new attribute: ModuleType declares none to assign
        return module

    return make
