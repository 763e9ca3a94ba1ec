"""Put the etl_common layer on sys.path and point PIPELINES_DIR at the repository's pipelines/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "layers" / "etl_common" / "python"))


@pytest.fixture(autouse=True)
def pipelines_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINES_DIR", str(REPO / "pipelines"))
    return REPO / "pipelines"
