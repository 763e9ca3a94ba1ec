"""One local runtime for the reliability tests (helpers live in reliability_support.py)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_support import PROJECT_DIR, SECRET_ARN, SECRET_USER, aws_client, clear_faults

from rsetl.clock import VirtualClock
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL
from rsetl.runtime import LocalRuntime, RuntimeOptions

ISOLATION_LEVEL = os.environ.get("RSETL_ISOLATION_LEVEL", DEFAULT_ISOLATION_LEVEL)
"""The dev database's isolation level for the whole run: `RSETL_ISOLATION_LEVEL=SERIALIZABLE pytest ...`
runs the suite under Redshift's other level."""


@pytest.fixture(scope="package")
def runtime() -> Iterator[LocalRuntime]:
    """One runtime for the whole folder (moto's S3 is process-wide: one runtime per process at a time)."""
    # Not under pytest's basetemp: concurrent pytest sessions prune each other's numbered temp dirs.
    state_dir = Path(tempfile.mkdtemp(prefix="rsetl-reliability-"))
    clock = VirtualClock(datetime(2026, 11, 6, 22, 0, tzinfo=UTC))
    overrides = {"WorkgroupName": "default-workgroup", "Database": "dev", "SecretArn": SECRET_ARN}
    options = RuntimeOptions(
        project_dir=PROJECT_DIR, state_dir=state_dir, clock=clock, parameter_overrides=overrides,
        database_secrets={SECRET_ARN: SECRET_USER}, isolation_level=ISOLATION_LEVEL,
    )  # fmt: skip
    local = LocalRuntime(options)
    local.start()
    try:
        grant_pipeline_roles(local)
        yield local
    finally:
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def grant_pipeline_roles(local: LocalRuntime) -> None:
    """The deployer's step (docs/aws.md): the secret's user gets the pipelines' database roles."""
    data = aws_client(local, "redshift-data")
    sql = f"GRANT ROLE rsetl_pipeline TO {SECRET_USER}; GRANT ROLE rsetl_quarantine TO {SECRET_USER}"
    submitted = data.execute_statement(WorkgroupName="default-workgroup", Database="dev", Sql=sql)
    described = data.describe_statement(Id=submitted["Id"], WaitTimeSeconds=30)
    assert described["Status"] == "FINISHED", described.get("Error")


@pytest.fixture(autouse=True)
def no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends without injected faults or rate limits."""
    yield
    if "runtime" in request.fixturenames:
        local: LocalRuntime = request.getfixturevalue("runtime")
        clear_faults(local)
