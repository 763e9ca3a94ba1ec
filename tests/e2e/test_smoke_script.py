"""scripts/smoke_test.py against the local endpoint: the same script a deployer runs against AWS."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke_test.py"


def _smoke_test() -> Any:
    spec = importlib.util.spec_from_file_location("smoke_test", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def local_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_the_smoke_test_loads_checks_and_removes_its_rows(
    e2e: E2E, local_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = e2e.runtime
    command = [
        "--stack", runtime.template.stack_name, "--endpoint-url", runtime.url,
        "--region", runtime.template.region, "--rows", "4", "--poll-seconds", "0.2", "--timeout", "120",
    ]  # fmt: skip

    assert _smoke_test().main(command) == 0

    out = capsys.readouterr().out
    assert "ok   ingest_sales execution" in out
    assert "ok   rows in sales.fact_sales: 4 of 4" in out
    assert "ok   ledger row: [['LOADED', 4]]" in out
    assert "smoke test passed" in out
    e2e.settle()
    assert e2e.scalar("SELECT count(*) FROM sales.fact_sales WHERE order_id LIKE 'SMOKE-%%'") == 0
    assert e2e.scalar("SELECT count(*) FROM etl.load_ledger WHERE object_key LIKE 'sales/smoke/%%'") == 0
    assert e2e.s3.list_objects_v2(Bucket=e2e.bucket, Prefix="sales/smoke/")["KeyCount"] == 0


def test_a_stack_that_does_not_exist_exits_2(e2e: E2E, local_credentials: None) -> None:
    command = ["--stack", "nope", "--endpoint-url", e2e.runtime.url, "--region", e2e.runtime.template.region]

    assert _smoke_test().main(command) == 2
