"""PNG plots: the cost of waiting (transitions and detection latency against statement duration) and
the local runtime against the other local emulators (bench/peers.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.burst import Burst
from bench.waiting import OURS, REFERENCE, PollRun, Targets

LABELS = {
    OURS: "rsetl RunPipeline (long poll + backoff)",
    REFERENCE: "reference: Wait 5 s + DescribeStatement",
}
STYLES = {OURS: "o-", REFERENCE: "s--"}


def _series(runs: list[PollRun], machine: str) -> list[PollRun]:
    return sorted((r for r in runs if r.machine == machine), key=lambda r: r.duration)


def plot_transitions(runs: list[PollRun], path: Path) -> Path:
    """Step transitions per run against duration, log-log; a failed run is marked x."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for machine in (OURS, REFERENCE):
        series = _series(runs, machine)
        axes.plot([r.duration for r in series], [r.step_transitions for r in series], STYLES[machine],
                  label=LABELS[machine])  # fmt: skip
        failed = [r for r in series if r.status != "SUCCEEDED"]
        if failed:
            axes.plot([r.duration for r in failed], [r.step_transitions for r in failed], "rx", markersize=12,
                      label="failed: 25,000 history events reached")  # fmt: skip
    axes.axhline(80, color="grey", linestyle=":", label="target: 80 transitions (1 h)")
    axes.set(xscale="log", yscale="log", xlabel="statement duration (s)", ylabel="state transitions per step",
             title="Cost of waiting: state transitions")  # fmt: skip
    axes.legend(fontsize=8)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_latency(runs: list[PollRun], path: Path) -> Path:
    """Worst detection latency against duration, with the target max(2 s, 5 %)."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for machine in (OURS, REFERENCE):
        series = [r for r in _series(runs, machine) if r.worst_latency is not None]
        axes.plot([r.duration for r in series], [max(r.worst_latency or 0.0, 0.1) for r in series],
                  STYLES[machine], label=LABELS[machine])  # fmt: skip
    durations = sorted({r.duration for r in runs})
    axes.plot(durations, [Targets.for_duration(d).max_latency for d in durations], ":", color="grey",
              label="target: max(2 s, 5 % of the duration)")  # fmt: skip
    axes.set(xscale="log", yscale="log", xlabel="statement duration (s)",
             ylabel="detection latency (s, worst of 3 phases; 0 shown as 0.1)",
             title="Cost of waiting: time to notice the statement ended")  # fmt: skip
    axes.legend(fontsize=8)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_burst(bursts: list[Burst], path: Path) -> Path:
    """Wall seconds and state transitions per file against the burst's size, one line per design."""
    figure, (wall, transitions) = plt.subplots(1, 2, figsize=(11, 4.5))
    for design in sorted({b.design for b in bursts}):
        series = sorted((b for b in bursts if b.design == design), key=lambda b: b.files)
        files = [b.files for b in series]
        wall.plot(files, [b.wall_seconds_per_file for b in series], "o-", label=design)
        transitions.plot(files, [b.state_transitions / b.files for b in series], "o-", label=design)
    wall.set(xscale="log", xlabel="files in the burst", ylabel="wall seconds per file (virtual clock)",
             title="Burst: wall time per file")  # fmt: skip
    transitions.set(xscale="log", xlabel="files in the burst", ylabel="state transitions per file",
                    title="Burst: state transitions per file")  # fmt: skip
    for axes in (wall, transitions):
        axes.legend(fontsize=8)
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_peers(table: dict[str, dict[str, float | str | None]], units: dict[str, str], path: Path) -> Path:
    """How many times better rsetl is than each peer on each figure (log scale; 1 = level); a figure
    a peer does not serve has no bar."""
    labels = list(table)
    figure, axes = plt.subplots(figsize=(8, 0.42 * len(labels) + 1.5))
    for offset, peer in ((-0.2, "MiniStack"), (0.2, "moto")):
        ratios: list[float] = []
        for label in labels:
            ours, theirs = table[label].get("rsetl"), table[label].get(peer)
            if not isinstance(ours, float) or not isinstance(theirs, float):
                ratios.append(float("nan"))
            elif units[label] in ("ms", "s", "MB"):
                ratios.append(theirs / ours)
            else:
                ratios.append(ours / theirs)
        axes.barh([i + offset for i in range(len(labels))], ratios, height=0.4, label=f"vs {peer}")
    axes.axvline(1, color="grey", linestyle=":")
    axes.set(xscale="log", yticks=range(len(labels)), xlabel="rsetl ahead by (x; < 1: behind)",
             title="rsetl local up against MiniStack 1.5.33 and moto 5.2.5")  # fmt: skip
    axes.set_yticklabels(labels, fontsize=8)
    axes.invert_yaxis()
    axes.legend(fontsize=8)
    axes.grid(True, axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
