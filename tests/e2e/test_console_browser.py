"""The run page in a real headless browser (Debian's Chromium driven by Playwright): the demo's runs,
read back after a restart from the journal, the path an execution took, a failed run's error, and a
running execution that updates without a reload. A screenshot of each page is saved in the test's
tmp folder."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rsetl.cli.demo import run_demo
from rsetl.clock import VirtualClock
from rsetl.runtime import LocalRuntime, RuntimeOptions

pytestmark = pytest.mark.postgres

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
AFTER_DEMO = datetime(2026, 11, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def console_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """The demo's state, served by a new runtime started on it: what the page shows is what the
    journal kept across the restart."""
    state_dir = tmp_path_factory.mktemp("console") / "state"
    assert run_demo(PROJECT_DIR, PROJECT_DIR / "sample_data", state_dir=state_dir) == 0
    runtime = LocalRuntime(
        RuntimeOptions(project_dir=PROJECT_DIR, state_dir=state_dir, clock=VirtualClock(AFTER_DEMO))
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def launch_chromium(playwright: Any) -> Browser:
    """Debian's Chromium, headless, nothing phoning home; Playwright gives each launch a fresh
    profile folder of its own (it refuses a --user-data-dir argument)."""
    browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == []


def executions(runtime: LocalRuntime, pipeline: str, status: str) -> list[Any]:
    return sorted(
        (
            e
            for e in runtime.stepfunctions.executions.values()
            if e.input.get("pipeline") == pipeline and e.status == status
        ),
        key=lambda e: e.start_date,
    )


def open_execution(page: Page, runtime: LocalRuntime, arn: str) -> None:
    page.goto(f"{runtime.console_url}#/execution/{arn}")
    page.wait_for_selector(".graph-svg .node")


def test_the_pipelines_page_draws_the_wiring_and_the_demos_last_runs(
    console_runtime: LocalRuntime, page: Page, tmp_path: Path
) -> None:
    page.goto(console_runtime.console_url)
    page.wait_for_selector("#pipelines")
    for name in ("ingest_sales", "refresh_sales_views", "nightly_sales_snapshot", "load_customer_segments"):
        expect(page.locator(f'.graph-svg [data-state="{name}"]')).to_have_count(1)
    trigger = '.graph-svg [data-state="trigger:RunPipelineStateMachineIngestSalesOnUpload"] > text'
    expect(page.locator(trigger)).to_have_text("S3 upload under sales/")
    sales_runs = page.locator('[data-pipeline="ingest_sales"] [data-execution]')
    expect(sales_runs).to_have_count(5)
    manifest = json.loads((PROJECT_DIR / "sample_data" / "manifest.json").read_text())
    uploads = len(manifest["sales"]["files"]) + 1  # and the bad file
    expect(page.locator('[data-pipeline="ingest_sales"]')).to_contain_text(f"{uploads} runs in all")
    expect(page.locator('[data-pipeline="load_customer_segments"]')).to_contain_text("SUCCEEDED")
    expect(page.locator("#clock")).to_have_text("virtual clock 2026-11-08 00:00:00Z")
    page.screenshot(path=tmp_path / "pipelines.png", full_page=True)


def test_an_ingest_shows_the_path_it_took_and_the_chain_it_started(
    console_runtime: LocalRuntime, page: Page, tmp_path: Path
) -> None:
    ingest = executions(console_runtime, "ingest_sales", "SUCCEEDED")[0]
    open_execution(page, console_runtime, ingest.arn)
    expect(page.locator('.node.entered[data-state="PrepareRun"]')).to_have_count(1)
    expect(page.locator('.node.entered[data-state="StepSucceeded"]')).to_have_count(1)
    expect(page.locator('.node.entered[data-state="NoRun"]')).to_have_count(0)
    expect(page.locator('.edge.taken[data-from="PrepareRun"][data-to="RunStages"]')).to_have_count(1)
    expect(page.locator('.edge[data-from="PrepareRun"][data-to="NoRun"]')).not_to_have_class(
        re.compile(r"\btaken\b")
    )
    kinds = page.locator("#chain .link").evaluate_all("links => links.map(l => l.dataset.kind)")
    assert kinds == ["event", "rule", "execution", "event", "rule", "execution"]
    chain = page.locator("#chain")
    expect(chain).to_contain_text("aws.s3 · Object Created")
    expect(chain).to_contain_text(ingest.input["parameters"]["object_key"])
    expect(chain).to_contain_text("rsetl.pipeline · Pipeline Succeeded")
    expect(chain).to_contain_text("refresh_sales_views")
    page.screenshot(path=tmp_path / "execution.png", full_page=True)
    page.click('[data-state="ExecuteStep"]')
    expect(page.locator("#panel-state")).to_have_text("ExecuteStep")
    expect(page.locator("#panel")).to_contain_text("entered 1\N{MULTIPLICATION SIGN}")
    page.locator("#panel summary", has_text="input").first.click()
    expect(page.locator("#panel")).to_contain_text('"attempt": 1')
    page.screenshot(path=tmp_path / "execution-state.png", full_page=True)


def test_a_failed_run_shows_its_error_and_where_it_failed(
    console_runtime: LocalRuntime, page: Page, tmp_path: Path
) -> None:
    (failed,) = executions(console_runtime, "ingest_sales", "FAILED")
    open_execution(page, console_runtime, failed.arn)
    error = page.locator("#execution-error")
    expect(error).to_contain_text("rsetl.PipelineFailed")
    expect(error).to_contain_text("failed step 'load_file'")
    expect(page.locator('.node.failed[data-state="StatementFailed"]')).to_have_count(1)
    expect(
        page.locator('.edge.taken[data-from="RunStages"][data-to="CancelRunningStatements"]')
    ).to_have_count(1)
    expect(page.locator("#chain")).to_contain_text("Pipeline Failed")
    page.screenshot(path=tmp_path / "failed.png", full_page=True)


def test_a_running_execution_updates_without_a_reload(
    console_runtime: LocalRuntime, page: Page, tmp_path: Path
) -> None:
    """A refresh blocked on a lock the test holds stays RUNNING, its statement STARTED; once the lock
    goes, the open page shows it SUCCEEDED and the statement FINISHED, with no navigation."""
    assert console_runtime.postgres is not None
    machine = next(iter(console_runtime.stepfunctions.machines))
    with console_runtime.postgres.connect(autocommit=False) as blocker:
        blocker.execute("LOCK TABLE sales.fact_sales IN ACCESS EXCLUSIVE MODE")
        execution = console_runtime.stepfunctions.start_execution(
            machine, {"pipeline": "refresh_sales_views", "parameters": {}}, name="console-live"
        )
        open_execution(page, console_runtime, execution.arn)
        expect(page.locator("h1 .status")).to_have_text("RUNNING")
        expect(page.locator("#statements")).to_contain_text("STARTED", timeout=30_000)
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        page.screenshot(path=tmp_path / "running.png", full_page=True)
        blocker.rollback()
    expect(page.locator("h1 .status")).to_have_text("SUCCEEDED", timeout=60_000)
    expect(page.locator("#statements")).to_contain_text("FINISHED")
    expect(page.locator("#statements")).to_contain_text("sp_refresh_mv_daily_store_sales")
    expect(page.locator('.node.entered[data-state="EmitPipelineSucceeded"]')).to_have_count(1)
    assert navigations == []
    page.screenshot(path=tmp_path / "live-done.png", full_page=True)


def test_the_page_is_read_only_and_unsigned(console_runtime: LocalRuntime) -> None:
    """No signature is asked of the page (it is no AWS API), and nothing but GET and HEAD is taken."""
    url = console_runtime.console_url + "api/pipelines"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"))
    assert refused.value.code == 405
    with urllib.request.urlopen(url) as answer:
        assert {p["name"] for p in json.load(answer)["pipelines"]} >= {"ingest_sales", "refresh_sales_views"}
