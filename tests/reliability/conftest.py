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

from reliability_support import PROJECT_DIR, SECRET_ARN, clear_faults

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
        project_dir=PROJECT_DIR,
        state_dir=state_dir,
        clock=clock,
        parameter_overrides=overrides,
        isolation_level=ISOLATION_LEVEL,
    )
    local = LocalRuntime(options)
    local.start()
    try:
        yield local
    finally:
        local.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends without injected faults or rate limits."""
    yield
    if "runtime" in request.fixturenames:
        local: LocalRuntime = request.getfixturevalue("runtime")
        clear_faults(local)
