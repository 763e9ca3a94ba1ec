"""The run page in a real headless browser (Debian's Chromium driven by Playwright): the demo's runs
(`rsetl local demo --serve`, on its virtual clock), the path an execution took, a failed run's error,
a running execution that updates without a reload, and the same runs after a restart (`rsetl local
up` on the demo's state). The runtimes run in their own processes (moto's S3 is process-wide). A
screenshot of each page is saved in the test's tmp folder."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.postgres

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
READY = re.compile(r"^rsetl local endpoint ready at (\S+) .*; run page (\S+); state in ")
STARTUP_TIMEOUT = 600.0


@dataclass
class Served:
    """An `rsetl` command in its own process, serving the run page at `page_url`."""

    process: subprocess.Popen[str]
    page_url: str = ""
    endpoint: str = ""
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    said: deque[str] = field(default_factory=lambda: deque(maxlen=30))

    @classmethod
    def start(cls, argv: list[str], ready: re.Pattern[str] | str) -> Served:
        code = f"import sys; from rsetl.cli import main; sys.exit(main({argv!r}))"
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        served = cls(process)
        threading.Thread(target=served._read, daemon=True).start()
        served._wait_for(ready)
        return served

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.said.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))

    def _wait_for(self, ready: re.Pattern[str] | str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, (
                    "the command ended before it served the page; its last lines:\n" + "\n".join(self.said)
                )
                continue
            if line.startswith("run page: "):
                self.page_url = line.removeprefix("run page: ")
            matched = ready.match(line) if isinstance(ready, re.Pattern) else None
            if matched:
                self.endpoint, self.page_url = matched.group(1), matched.group(2)
            if matched or line == ready:
                self.endpoint = self.endpoint or self.page_url.removesuffix("/_rsetl/")
                return
        raise AssertionError("the page was not served in time")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.page_url + path, timeout=30) as answer:
            return json.load(answer)

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console") / "state"


@pytest.fixture(scope="module")
def demo(state_dir: Path) -> Iterator[Served]:
    """`rsetl local demo --serve`: the demo's runs, served on its virtual clock."""
    argv = ["local", "--state-dir", str(state_dir), "demo", "--project-dir", str(PROJECT_DIR), "--serve"]
    served = Served.start(argv, "serving the run page until Ctrl-C")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def restarted(demo: Served, state_dir: Path) -> Iterator[Served]:
    """The demo stopped, then `rsetl local up` on its state: what the page shows, the journal kept."""
    assert demo.stop() == 0
    argv = ["local", "--state-dir", str(state_dir), "up", "--project-dir", str(PROJECT_DIR), "--port", "0"]
    served = Served.start(argv, READY)
    try:
        yield served
    finally:
        served.stop()


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


def runs(served: Served, pipeline: str, status: str) -> list[dict[str, Any]]:
    """The executions of `pipeline` in `status`, oldest first, as the page's JSON lists them."""
    listed = served.get("api/executions")["executions"]
    chosen = [e for e in listed if e["pipeline"] == pipeline and e["status"] == status]
    return sorted(chosen, key=lambda e: e["startDate"])


def open_execution(page: Page, served: Served, arn: str) -> None:
    page.goto(f"{served.page_url}#/execution/{arn}")
    page.wait_for_selector(".graph-svg .node")


def test_the_pipelines_page_draws_the_wiring_and_the_demos_last_runs(
    demo: Served, page: Page, tmp_path: Path
) -> None:
    page.goto(demo.page_url)
    page.wait_for_selector("#pipelines")
    for name in ("ingest_sales", "refresh_sales_views", "nightly_sales_snapshot", "load_customer_segments"):
        expect(page.locator(f'.graph-svg [data-state="{name}"]')).to_have_count(1)
    trigger = '.graph-svg [data-state="trigger:RunPipelineStateMachineIngestSalesOnUpload"] > text'
    expect(page.locator(trigger)).to_have_text("S3 upload under sales/")
    expect(
        page.locator('.edge[data-from="nightly_sales_snapshot"][data-to="load_customer_segments"]')
    ).to_have_count(1)
    refresh = "via:RequestRefreshFunctionRefreshViewsAfterIngest"
    expect(page.locator(f'.graph-svg [data-state="{refresh}"] > text')).to_have_text(
        "RequestRefreshFunction → RefreshViewsStateMachine"
    )
    for ingest in ("ingest_sales", "ingest_products", "ingest_stores"):
        expect(page.locator(f'.edge[data-from="{ingest}"][data-to="{refresh}"]')).to_have_count(1)
    expect(page.locator(f'.edge[data-from="{refresh}"][data-to="refresh_sales_views"]')).to_have_count(1)
    expect(page.locator('[data-pipeline="ingest_sales"] [data-execution]')).to_have_count(5)
    expect(page.locator('[data-pipeline="ingest_sales"]')).to_contain_text(f"{sales_uploads()} runs in all")
    expect(page.locator('[data-pipeline="load_customer_segments"]')).to_contain_text("SUCCEEDED")
    expect(page.locator("#clock")).to_have_text(re.compile(r"^virtual clock 2026-11-07 "))
    page.screenshot(path=tmp_path / "pipelines.png", full_page=True)


def sales_uploads() -> int:
    manifest = json.loads((PROJECT_DIR / "sample_data" / "manifest.json").read_text())
    return len(manifest["sales"]["files"]) + 1  # and the bad file


def test_an_ingest_shows_the_path_it_took_its_statements_and_the_chain_it_started(
    demo: Served, page: Page, tmp_path: Path
) -> None:
    ingest = runs(demo, "ingest_sales", "SUCCEEDED")[0]
    key = demo.get(f"api/execution?arn={ingest['arn']}")["execution"]["input"]["parameters"]["object_key"]
    open_execution(page, demo, ingest["arn"])
    expect(page.locator('.node.entered[data-state="PrepareRun"]')).to_have_count(1)
    expect(page.locator('.node.entered[data-state="StepSucceeded"]')).to_have_count(1)
    expect(page.locator('.node.entered[data-state="NoRun"]')).to_have_count(0)
    expect(page.locator('.edge.taken[data-from="PrepareRun"][data-to="RunStages"]')).to_have_count(1)
    expect(page.locator('.edge[data-from="PrepareRun"][data-to="NoRun"]')).not_to_have_class(
        re.compile(r"\btaken\b")
    )
    kinds = page.locator("#chain .link").evaluate_all("links => links.map(l => l.dataset.kind)")
    # The success event goes to the function that coalesces view refreshes per window (docs/aws.md,
    # "Coalesced view refreshes"): no one execution follows from one delivery, so the chain ends there.
    assert kinds == ["event", "rule", "execution", "event", "rule"]
    chain = page.locator("#chain")
    expect(chain).to_contain_text("aws.s3 · Object Created")
    expect(chain).to_contain_text(key)
    expect(chain).to_contain_text("rsetl.pipeline · Pipeline Succeeded")
    expect(chain).to_contain_text("RefreshViewsAfterIngest")
    statement = page.locator('#statements [data-step="load_file"]')
    expect(statement).to_contain_text("FINISHED")
    expect(statement).to_contain_text("LOCK etl.load_ledger")
    expect(statement).to_contain_text("CALL sales.sp_merge_sales_lines")
    page.screenshot(path=tmp_path / "execution.png", full_page=True)
    page.click('[data-state="ExecuteStep"]')
    expect(page.locator("#panel-state")).to_have_text("ExecuteStep")
    expect(page.locator("#panel")).to_contain_text("entered 1\N{MULTIPLICATION SIGN}")
    page.locator("#panel summary", has_text="input").first.click()
    expect(page.locator("#panel")).to_contain_text('"attempt": 1')
    page.screenshot(path=tmp_path / "execution-state.png", full_page=True)


def test_a_failed_run_shows_its_error_and_where_it_failed(demo: Served, page: Page, tmp_path: Path) -> None:
    (failed,) = runs(demo, "ingest_sales", "FAILED")
    open_execution(page, demo, failed["arn"])
    error = page.locator("#execution-error")
    expect(error).to_contain_text("rsetl.PipelineFailed")
    expect(error).to_contain_text("failed step 'load_file'")
    expect(page.locator('.node.failed[data-state="StatementFailed"]')).to_have_count(1)
    expect(
        page.locator('.edge.taken[data-from="RunStages"][data-to="CancelRunningStatements"]')
    ).to_have_count(1)
    expect(page.locator("#chain")).to_contain_text("Pipeline Failed")
    expect(page.locator('#statements [data-step="load_file"]')).to_contain_text("FAILED")
    page.screenshot(path=tmp_path / "failed.png", full_page=True)


def test_a_running_execution_updates_without_a_reload(demo: Served, page: Page, tmp_path: Path) -> None:
    """A refresh blocked on a lock that a Data API session holds stays RUNNING, its statement
    STARTED; once the session rolls back, the open page shows it SUCCEEDED and the statement
    FINISHED, with no navigation."""
    data, states = demo.client("redshift-data"), demo.client("stepfunctions")

    def run(sql: str, **session: Any) -> dict[str, Any]:
        submitted: dict[str, Any] = data.execute_statement(
            Sql=sql, Database="dev", WorkgroupName="local", **session
        )
        while data.describe_statement(Id=submitted["Id"])["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
            time.sleep(0.1)
        return submitted

    # The demo's last refresh left the views fresh, so a refresh would skip its REFRESH: a committed
    # write to a base table makes them stale (the rewritten row holds the same values).
    run(
        "UPDATE sales.fact_sales SET quantity = quantity"
        " WHERE order_id = (SELECT MIN(order_id) FROM sales.fact_sales)"
    )
    session = run("BEGIN", SessionKeepAliveSeconds=600)["SessionId"]
    run("LOCK TABLE sales.fact_sales IN ACCESS EXCLUSIVE MODE", SessionId=session)
    (machine,) = [
        m
        for m in states.list_state_machines()["stateMachines"]
        if m["name"].endswith("-RunPipelineStateMachine")
    ]
    started = states.start_execution(
        stateMachineArn=machine["stateMachineArn"], name="console-live",
        input=json.dumps({"pipeline": "refresh_sales_views", "parameters": {}}),
    )  # fmt: skip
    open_execution(page, demo, started["executionArn"])
    expect(page.locator("h1 .status")).to_have_text("RUNNING")
    expect(page.locator("#statements")).to_contain_text("STARTED", timeout=60_000)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.screenshot(path=tmp_path / "running.png", full_page=True)
    run("ROLLBACK", SessionId=session)
    expect(page.locator("h1 .status")).to_have_text("SUCCEEDED", timeout=120_000)
    expect(page.locator("#statements")).to_contain_text("FINISHED")
    expect(page.locator("#statements")).to_contain_text("sp_refresh_mv_daily_store_sales")
    expect(page.locator('.node.entered[data-state="EmitPipelineSucceeded"]')).to_have_count(1)
    assert navigations == []
    page.screenshot(path=tmp_path / "live-done.png", full_page=True)


def test_the_page_is_read_only_and_unsigned(demo: Served) -> None:
    """No signature is asked of the page (it is no AWS API), and nothing but GET and HEAD is taken."""
    url = demo.page_url + "api/pipelines"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=30)
    assert refused.value.code == 405
    assert {p["name"] for p in demo.get("api/pipelines")["pipelines"]} >= {
        "ingest_sales",
        "refresh_sales_views",
    }


def test_after_a_restart_the_page_shows_the_runs_the_journal_kept(
    restarted: Served, page: Page, tmp_path: Path
) -> None:
    """`rsetl local up` on the demo's state: its ready line names the page, which lists the demo's
    runs and draws the failed one with its error (the Data API's statements are gone: held in memory)."""
    assert restarted.page_url == restarted.endpoint + "/_rsetl/"
    page.goto(restarted.page_url)
    page.wait_for_selector("#pipelines")
    expect(page.locator('[data-pipeline="ingest_sales"]')).to_contain_text(f"{sales_uploads()} runs in all")
    expect(page.locator("#clock")).to_have_text(re.compile(r"^clock "))
    (failed,) = runs(restarted, "ingest_sales", "FAILED")
    open_execution(page, restarted, failed["arn"])
    expect(page.locator("#execution-error")).to_contain_text("failed step 'load_file'")
    expect(page.locator('.node.failed[data-state="StatementFailed"]')).to_have_count(1)
    expect(page.locator("#chain")).to_contain_text("aws.s3 · Object Created")
    page.screenshot(path=tmp_path / "after-restart.png", full_page=True)
