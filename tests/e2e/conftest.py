"""A running local runtime of this repository's template, on a virtual clock, shared by the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from rsetl.clock import VirtualClock
from rsetl.runtime import LocalRuntime, RuntimeOptions

PROJECT_DIR = Path(__file__).resolve().parents[2]
SAMPLE_DIR = PROJECT_DIR / "sample_data"


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One runtime for the session (PostgreSQL start-up and sql/ take seconds)."""
    state_dir = tmp_path_factory.mktemp("rsetl-e2e")
    clock = VirtualClock(datetime(2026, 11, 6, 22, 0, tzinfo=UTC))
    local = LocalRuntime(RuntimeOptions(project_dir=PROJECT_DIR, state_dir=state_dir, clock=clock))
    local.start()
    yield local
    local.stop()


def aws_client(runtime: LocalRuntime, service: str) -> Any:
    """A boto3 client of the running runtime, with the documented local credentials."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=runtime.url,
        region_name=runtime.template.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def landing_bucket(runtime: LocalRuntime) -> str:
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    return bucket.ref


def settle(runtime: LocalRuntime) -> None:
    """Wait until no delivery, execution or asynchronous invocation is under way."""
    assert runtime.settle(300), "the local runtime did not settle within 300 s"
