"""A private state directory per test module (not under pytest's basetemp, which parallel sessions prune)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsetl.postgres import PostgresServer


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="rsetl-postgres-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded(state_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer.start(state_root / "shared")
    yield server
    server.stop()
