"""`python -m bench` (`make bench`): every benchmark side by side in one run, one summary table.

1. cost of waiting: RunPipeline vs a fixed 5 s poll loop, 1 s to 24 h statements (virtual clock);
2. the local Data API's overhead over psycopg (bench/data_api_overhead.py);
3. COPY throughput vs psycopg COPY (bench/copy_throughput.py);
4. end to end: the demo chain through the runtime vs its SQL through psycopg;
5. the AWS cost per run of 1's counts;
6. the endpoint's HTTP server (uvicorn) against the former http.server front (bench/server_latency.py).

Figures go to bench/results/ (JSON and PNG plots).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from bench import anchors, end_to_end, plots, waiting
from bench.cost import PRICES_SOURCE, Prices, run_cost
from bench.waiting import OURS, REFERENCE, PollRun, Targets

RESULTS = Path(__file__).with_name("results")
E2E_RUNS = {"the runtime's defaults": False, "Lambda workers warm": True}
T = TypeVar("T")


def _ok(ok: bool) -> str:
    return "[green]pass[/green]" if ok else "[red]MISS[/red]"


def _duration(seconds: int) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _ratio(reference: float, ours: float) -> str:
    return f"{reference / ours:,.1f}x" if ours else "-"


def _side_by_side(ours: int, reference: int) -> str:
    return f"{ours:,} / {reference:,} ({_ratio(reference, ours)})"


def _latency(value: float | None) -> str:
    return "never" if value is None else f"{value:g} s"


def pairs(runs: list[PollRun]) -> list[tuple[PollRun, PollRun]]:
    """(ours, reference) per duration, shortest first."""
    by_key = {(r.machine, r.duration): r for r in runs}
    durations = sorted({r.duration for r in runs})
    return [(by_key[(OURS, d)], by_key[(REFERENCE, d)]) for d in durations]


def waiting_table(runs: list[PollRun]) -> Table:
    table = Table(
        title="1. Cost of waiting (virtual clock), rsetl / reference (ratio ref:ours): "
        "transitions per step, the rest per run"
    )
    for column in ("statement", "transitions", "Lambda inv.", "Data API calls", "history events",
                   "latency (worst)", "targets", ""):  # fmt: skip
        table.add_column(column, justify="right" if column not in ("statement", "targets") else "left")
    for ours, ref in pairs(runs):
        targets = Targets.for_duration(ours.duration)
        misses = targets.misses(ours)
        wanted = [f"<= {targets.max_step_transitions} transitions"] if targets.max_step_transitions else []
        wanted += [f"<= {targets.max_history_events:,} events"] if targets.max_history_events else []
        wanted.append(f"latency <= {targets.max_latency:g} s")
        ref_note = "" if ref.status == "SUCCEEDED" else f" [red]{ref.status}[/red]"
        table.add_row(
            _duration(ours.duration) + ref_note,
            _side_by_side(ours.step_transitions, ref.step_transitions),
            f"{ours.lambda_invocations} / {ref.lambda_invocations}",
            _side_by_side(ours.data_api_calls, ref.data_api_calls),
            f"{ours.history_events:,} / {ref.history_events:,}",
            f"{_latency(ours.worst_latency)} / {_latency(ref.worst_latency)}",
            ", ".join(wanted),
            _ok(not misses) + ("" if not misses else f" ({'; '.join(misses)})"),
        )
    return table


def cost_rows(runs: list[PollRun], prices: Prices) -> list[dict[str, Any]]:
    """Dollars per run for both machines at every duration."""
    rows = []
    for ours, ref in pairs(runs):
        mine, theirs = run_cost(ours.counts, prices), run_cost(ref.counts, prices)
        lambda_dollars = mine.lambda_requests + mine.lambda_duration
        rows.append({
            "duration": ours.duration,
            "ours": {"step_functions": mine.step_functions, "lambda": lambda_dollars,
                     "eventbridge": mine.eventbridge, "total": mine.total},
            "reference": {"step_functions": theirs.step_functions, "total": theirs.total,
                          "status": ref.status},
        })  # fmt: skip
    return rows


def cost_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="5. AWS cost per pipeline run, us-east-1 list prices (USD)")
    for column in ("statement", "rsetl: Step Functions", "rsetl: Lambda", "rsetl: total", "reference: total",
                   "ratio ref:ours"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in rows:
        ours, ref = row["ours"], row["reference"]
        failed = "" if ref["status"] == "SUCCEEDED" else " (failed; spent before)"
        table.add_row(
            _duration(row["duration"]),
            f"{ours['step_functions']:.6f}",
            f"{ours['lambda']:.6f}",
            f"{ours['total']:.6f}",
            f"{ref['total']:.6f}{failed}",
            _ratio(ref["total"], ours["total"]),
        )
    return table


def summary_table(
    runs: list[PollRun],
    overhead: anchors.AnchorResult | None,
    copy: anchors.AnchorResult | None,
    e2e: dict[str, end_to_end.EndToEnd],
    server: anchors.AnchorResult | None = None,
) -> Table:
    table = Table(title="Summary: targets")
    for column in ("benchmark", "figure", "target", ""):
        table.add_column(column)
    for ours, ref in pairs(runs):
        targets = Targets.for_duration(ours.duration)
        table.add_row(
            f"1. waiting, {_duration(ours.duration)} statement",
            f"{ours.step_transitions} transitions ({ref.step_transitions:,} ref), "
            f"{ours.history_events:,} events, "
            f"latency {_latency(ours.worst_latency)} ({_latency(ref.worst_latency)} ref)",
            f"transitions <= {targets.max_step_transitions or '-'}, "
            f"events <= {targets.max_history_events or '-'}, latency <= {targets.max_latency:g} s",
            _ok(not targets.misses(ours)),
        )
    for anchor in (overhead, copy, server):
        if anchor is not None:
            if not anchor.verdicts:
                table.add_row(anchor.name, "no verdict found in its output", "", _ok(False))
            for claim, ok in anchor.verdicts:
                figure = f"ratio {anchor.ratio:.2f}" if anchor.ratio is not None else "see its output"
                table.add_row(anchor.name, figure, claim, _ok(ok))
    for label, result in e2e.items():
        table.add_row(
            f"4. end to end (demo chain), {label}",
            f"{result.runtime_seconds:.2f} s runtime vs {result.psycopg_seconds:.2f} s psycopg "
            f"= {result.ratio:.2f}x",
            f"<= {end_to_end.TARGET_RATIO}x",
            _ok(result.ratio <= end_to_end.TARGET_RATIO),
        )
    return table


def _timed(console: Console, title: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    with console.status(title):
        result = action()
    console.print(f"[green]✓[/green] {title} ({time.perf_counter() - started:.1f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip", action="append", default=[], choices=["waiting", "overhead", "copy", "e2e", "server"]
    )
    parser.add_argument("--copy-rows", type=int, default=200_000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 150))
    args.results.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    runs: list[PollRun] = []
    if "waiting" not in args.skip:
        runs = _timed(console, "1. cost of waiting (both machines, 1 s to 24 h)", waiting.measure)
    overhead = None if "overhead" in args.skip else _timed(console, "2. Data API overhead", anchors.data_api)
    copy = (
        None
        if "copy" in args.skip
        else _timed(console, "3. COPY throughput", lambda: anchors.copy(rows=args.copy_rows))
    )
    server = None if "server" in args.skip else _timed(console, "6. HTTP server latency", anchors.server)
    e2e: dict[str, end_to_end.EndToEnd] = {}
    if "e2e" not in args.skip:
        for label, warm in E2E_RUNS.items():
            e2e[label] = _timed(
                console, f"4. end to end (demo chain), {label}", partial(end_to_end.measure, warm)
            )

    prices = Prices()
    costs = cost_rows(runs, prices)
    for anchor in (overhead, copy, server):
        if anchor is not None:
            console.print(f"\n[bold]{anchor.name}[/bold] (its own output)\n{anchor.output.rstrip()}")
    console.print()
    if runs:
        console.print(waiting_table(runs))
        console.print(cost_table(costs))
        console.print(f"Prices: {PRICES_SOURCE}: {prices}")
        plots.plot_transitions(runs, args.results / "waiting_transitions.png")
        plots.plot_latency(runs, args.results / "waiting_latency.png")
    for label, result in e2e.items():
        phases = ", ".join(
            f"{name} {seconds:.2f} s vs {result.psycopg_phases.get(name, 0.0):.2f} s"
            for name, seconds in result.phases.items()
        )
        console.print(f"4. end to end, {label}, real seconds per phase (runtime vs psycopg): {phases}")
    console.print(summary_table(runs, overhead, copy, e2e, server))
    total = time.perf_counter() - started
    console.print(f"all benchmarks: {total:.0f} s; figures in {args.results}")
    figures = {
        "seconds": total,
        "waiting": [r.to_json() for r in runs],
        "cost": {"prices": prices.__dict__, "source": PRICES_SOURCE, "runs": costs},
        "data_api_overhead": overhead.to_json() if overhead else None,
        "copy_throughput": copy.to_json() if copy else None,
        "server_latency": server.to_json() if server else None,
        "end_to_end": {label: result.to_json() for label, result in e2e.items()},
    }
    (args.results / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
