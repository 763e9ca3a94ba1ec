"""`rsetl local demo`: the whole event-driven chain on fresh local state, checked against the sample data."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from rsetl.cli.local import PipeConsole, print_startup_problems
from rsetl.clock import VirtualClock
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL
from rsetl.runtime import LocalRuntime, RuntimeOptions

console = PipeConsole(width=max(Console().width, 110))

DEMO_START = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
"""Virtual time the demo starts at: the evening after the last good sales day, before the nightly run."""

SETTLE_TIMEOUT = 900.0


@dataclass
class Check:
    name: str
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.actual)


@dataclass
class DemoReport:
    checks: list[Check] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)

    def check(self, name: str, expected: Any, actual: Any) -> None:
        self.checks.append(Check(name, expected, actual))

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def run_demo(
    project_dir: Path,
    sample_dir: Path,
    state_dir: Path | None = None,
    isolation_level: str = DEFAULT_ISOLATION_LEVEL,
    serve: bool = False,
    port: int = 0,
) -> int:
    """Run the demo; 0 when every check against the sample data's manifest holds. It ends by printing
    the run page's address; with `serve` it keeps serving the page (and the endpoint) until Ctrl-C."""
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    state_dir = state_dir or project_dir / ".rsetl" / "demo"
    if state_dir.exists() and any(state_dir.iterdir()) and not (state_dir / "postgres").is_dir():
        console.print(f"[red]{state_dir} is not empty and holds no local state: the demo would wipe it[/red]")
        return 2
    if state_dir.exists():
        shutil.rmtree(state_dir)
    clock = VirtualClock(DEMO_START)
    runtime = LocalRuntime(
        RuntimeOptions(
            project_dir=project_dir,
            state_dir=state_dir,
            clock=clock,
            isolation_level=isolation_level,
            port=port,
        )
    )
    report = DemoReport()
    started = time.monotonic()
    console.print(f"[bold]rsetl local demo[/bold]: fresh state in {state_dir}, virtual clock at {DEMO_START}")
    with console.status("starting the local runtime (PostgreSQL, sql/, template.yaml)") as status:
        runtime.start(lambda line: status.update(f"starting the local runtime: {line}"))
    report.phases.append(("start-up", time.monotonic() - started))
    try:
        print_startup_problems(runtime, console)
        landing = _landing_bucket(runtime)
        s3 = runtime.client("s3")
        reference = [manifest["reference"]["stores"]["key"], manifest["reference"]["products"]["key"]]
        sales = [entry["key"] for entry in manifest["sales"]["files"]] + [manifest["bad_file"]["key"]]
        _phase(runtime, report, "reference data uploads", lambda: _upload(s3, sample_dir, landing, reference))
        _phase(
            runtime, report, "sales uploads (one bad file)", lambda: _upload(s3, sample_dir, landing, sales)
        )
        _phase(runtime, report, "nightly schedule (virtual clock)", lambda: _fire_nightly(runtime))
        _verify(runtime, manifest, landing, report)
        _print_report(runtime, report, time.monotonic() - started)
        console.print(f"run page: {runtime.console_url}", soft_wrap=True)
        if serve:
            console.print("serving the run page until Ctrl-C")
            _wait_for_interrupt()
    finally:
        with console.status("stopping"):
            runtime.stop()
    return 0 if report.ok else 1


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def _landing_bucket(runtime: LocalRuntime) -> str:
    for bucket in runtime.template.of_type("AWS::S3::Bucket"):
        config = bucket.properties.get("NotificationConfiguration") or {}
        if (config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            return bucket.ref
    raise RuntimeError("the template declares no bucket with EventBridge notifications (the landing bucket)")


def _upload(s3: Any, sample_dir: Path, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.upload_file(str(sample_dir / key), bucket, key)


def _fire_nightly(runtime: LocalRuntime) -> None:
    next_fire = runtime.scheduler.next_fire_time()
    if next_fire is None:
        raise RuntimeError("the template declares no schedule to fire")
    runtime.scheduler.run_until(next_fire + timedelta(seconds=1))


def _phase(runtime: LocalRuntime, report: DemoReport, title: str, action: Any) -> None:
    started = time.monotonic()
    with Live(_progress(runtime, title), console=console, refresh_per_second=4, transient=True) as live:
        action()
        settled = runtime.settle(SETTLE_TIMEOUT, on_tick=lambda: live.update(_progress(runtime, title)))
    elapsed = time.monotonic() - started
    report.phases.append((title, elapsed))
    executions = list(runtime.stepfunctions.executions.values())
    done = Counter(e.status for e in executions)
    console.print(
        f"[green]✓[/green] {title}: settled in {elapsed:.1f}s "
        f"({', '.join(f'{n} {s.lower()}' for s, n in sorted(done.items()))})"
    )
    if not settled:
        report.check(f"{title} settles within {SETTLE_TIMEOUT:.0f}s", True, False)


def _progress(runtime: LocalRuntime, title: str) -> Group:
    table = Table("execution", "pipeline", "status", "state", "transitions", title=title, expand=False)
    for execution in sorted(
        runtime.stepfunctions.executions.values(), key=lambda e: e.start_date or DEMO_START
    ):
        table.add_row(
            execution.name[:13], _pipeline_of(execution.input), execution.status,
            _current_state(execution.history.events), str(execution.history.stats.state_transitions),
        )  # fmt: skip
    return Group(table)


def _pipeline_of(execution_input: Any) -> str:
    return str(execution_input.get("pipeline", "?")) if isinstance(execution_input, dict) else "?"


def _current_state(events: list[dict[str, Any]]) -> str:
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if details:
            return str(details["name"])
    return ""


def _query(runtime: LocalRuntime, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    assert runtime.postgres is not None
    with runtime.postgres.connect() as conn:
        return list(conn.execute(sql, params).fetchall())


def _verify(runtime: LocalRuntime, manifest: dict[str, Any], landing: str, report: DemoReport) -> None:
    sales = manifest["sales"]
    bad = manifest["bad_file"]
    reference = manifest["reference"]
    report.check(
        "stores loaded", reference["stores"]["rows"], _scalar(runtime, "SELECT count(*) FROM sales.dim_store")
    )
    report.check(
        "products loaded",
        reference["products"]["rows"],
        _scalar(runtime, "SELECT count(*) FROM sales.dim_product"),
    )
    report.check(
        "sales lines loaded", sales["total_rows"], _scalar(runtime, "SELECT count(*) FROM sales.fact_sales")
    )
    report.check(
        "distinct orders", sales["distinct_orders"],
        _scalar(runtime, "SELECT count(DISTINCT order_id) FROM sales.fact_sales"),
    )  # fmt: skip
    by_day = {
        str(day): f"{amount:.2f}"
        for day, amount in _query(
            runtime, "SELECT order_date, sum(net_amount) FROM sales.fact_sales GROUP BY 1 ORDER BY 1"
        )
    }
    report.check("net amount per day (facts)", sales["net_amount_by_day"], by_day)
    mv_total = _scalar(runtime, "SELECT sum(net_amount) FROM reporting.mv_daily_store_sales")
    report.check(
        "materialized view holds every load",
        Decimal(sales["total_net_amount"]),
        Decimal(mv_total or 0),
    )
    report.check(
        "rows from the bad file", 0,
        _scalar(runtime, "SELECT count(*) FROM sales.fact_sales WHERE source_key = %s", bad["key"]),
    )  # fmt: skip
    ledger = dict(_query(runtime, "SELECT status, count(*) FROM etl.load_ledger GROUP BY 1"))
    good_files = len(sales["files"]) + 2
    report.check("ledger: files LOADED once each", good_files, ledger.get("LOADED", 0))
    report.check("ledger: the bad file FAILED", 1, ledger.get("FAILED", 0))
    s3 = runtime.client("s3")
    quarantined = s3.list_objects_v2(Bucket=landing, Prefix="quarantine/").get("Contents", [])
    report.check("bad file quarantined", [f"quarantine/{bad['key']}"], [o["Key"] for o in quarantined])
    remaining = s3.list_objects_v2(Bucket=landing, Prefix=bad["key"]).get("KeyCount", 0)
    report.check("bad file removed from its landing key", 0, remaining)
    failed_events = [
        e for e in runtime.events.events()
        if e.event["detail-type"] == "Pipeline Failed" and e.event["detail"].get("pipeline") == "ingest_sales"
    ]  # fmt: skip
    report.check("one Pipeline Failed event for the bad file", 1, len(failed_events))
    snapshot_day = (DEMO_START.date()).isoformat()
    report.check(
        "nightly snapshot built for the business date", True,
        (_scalar(runtime, "SELECT count(*) FROM reporting.daily_sales_snapshot WHERE business_date = %s",
                 snapshot_day) or 0) > 0,
    )  # fmt: skip
    report.check(
        "downstream customer segments loaded", True,
        (_scalar(runtime, "SELECT count(*) FROM reporting.customer_segments") or 0) > 0,
    )  # fmt: skip
    statuses = Counter((_pipeline_of(e.input), e.status) for e in runtime.stepfunctions.executions.values())
    report.check(
        "failed executions (only the bad file's ingest)", {"ingest_sales FAILED": 1},
        {f"{p} {s}": n for (p, s), n in statuses.items() if s != "SUCCEEDED"},
    )  # fmt: skip
    ingests = sum(n for (p, s), n in statuses.items() if p.startswith("ingest_") and s == "SUCCEEDED")
    refreshes = statuses.get(("refresh_sales_views", "SUCCEEDED"), 0)
    report.check(
        "view refreshes coalesced (at least one, at most one per ingest)", True, 1 <= refreshes <= ingests
    )
    report.check(
        "views fresh after the last load", {"f"},
        {str(stale) for (stale,) in _query(runtime, "SELECT is_stale FROM rsetl_compat.stv_mv_info")},
    )  # fmt: skip


def _scalar(runtime: LocalRuntime, sql: str, *params: Any) -> Any:
    return _query(runtime, sql, *params)[0][0]


def _print_report(runtime: LocalRuntime, report: DemoReport, elapsed: float) -> None:
    executions = list(runtime.stepfunctions.executions.values())
    pipelines = Table("pipeline", "runs", "succeeded", "failed", "state transitions", "Lambda calls",
                      "virtual time", title="Pipelines")  # fmt: skip
    grouped: dict[str, list[Any]] = {}
    for execution in executions:
        grouped.setdefault(_pipeline_of(execution.input), []).append(execution)
    for pipeline, runs in sorted(grouped.items()):
        virtual = sum(
            ((e.stop_date or e.start_date) - e.start_date).total_seconds() for e in runs if e.start_date
        )
        pipelines.add_row(
            pipeline, str(len(runs)), str(sum(e.status == "SUCCEEDED" for e in runs)),
            str(sum(e.status == "FAILED" for e in runs)),
            str(sum(e.history.stats.state_transitions for e in runs)),
            str(sum(e.history.stats.lambda_invocations for e in runs)), f"{virtual:.0f}s",
        )  # fmt: skip
    console.print(pipelines)
    assert runtime.redshift_data is not None
    data = runtime.client("redshift-data")
    statements = sum(len(page["Statements"]) for page in data.get_paginator("list_statements").paginate())
    rows_loaded = _scalar(
        runtime, "SELECT coalesce(sum(rows_loaded), 0) FROM etl.load_ledger WHERE status = 'LOADED'"
    )
    events = runtime.events.events()
    totals = Table("measure", "value", title="Totals")
    totals.add_row("executions", str(len(executions)))
    totals.add_row("states entered", str(sum(e.history.stats.state_transitions for e in executions)))
    totals.add_row("Data API statements", str(statements))
    totals.add_row("rows loaded (ledger)", str(rows_loaded))
    totals.add_row("events put", str(len(events)))
    for detail_type, count in sorted(Counter(e.event["detail-type"] for e in events).items()):
        totals.add_row(f"  {detail_type}", str(count))
    for title, seconds in report.phases:
        totals.add_row(f"wall time: {title}", f"{seconds:.1f}s")
    totals.add_row("wall time: total", f"{elapsed:.1f}s")
    console.print(totals)
    for record in events:
        if record.event["detail-type"] == "Pipeline Failed":
            detail = record.event["detail"]
            console.print(
                f"[yellow]rejected:[/yellow] {detail.get('pipeline')} run {detail.get('execution_name')} "
                f"failed at step {detail.get('step')!r}: {detail.get('error')}"
            )
    console.print(f"function logs: {runtime.options.state_dir / 'logs'}")
    checks = Table("check", "expected", "actual", "", title="Checks against sample_data/manifest.json")
    for check in report.checks:
        mark = "[green]ok[/green]" if check.ok else "[red]FAILED[/red]"
        checks.add_row(check.name, _short(check.expected), _short(check.actual), mark)
    console.print(checks)
    verdict = "[green]demo succeeded[/green]" if report.ok else "[red]demo failed: see the checks above[/red]"
    console.print(verdict)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
