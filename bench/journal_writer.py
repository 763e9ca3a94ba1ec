"""What the journal costs an execution: a 404-event execution with no journal, with the journal of
this checkout, and with another checkout's (`--before-rev`), side by side.

Run: `.venv/bin/python -m bench.journal_writer [--before-rev REV] [--rounds 5] [--runs 40]`. Each round
runs every mode in a child process of its own (`python -m bench.journal_writer run MODE RUNS`, with the
other checkout's `src` first on the path for the "before" mode), the modes interleaved round by round so
the machine's load weighs on all alike. A run is one StartExecution run to its end in the calling thread
(`wait=True`) of a chain of 201 Pass states: 404 history events (ExecutionStarted, an Entered and an
Exited per state, ExecutionSucceeded), with its status change events sent to a local EventBridge on the
same journal, as `rsetl local up` wires them.
Prints the median per mode, its ratio to the run without a journal, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PASS_STATES = 201
ROUNDS = 5
RUNS = 40
MODES = ("no journal", "journal")


def chain(states: int = PASS_STATES) -> str:
    """A definition of `states` Pass states in a row: 2 * states + 2 history events."""
    names = [f"P{i}" for i in range(states)]
    machine = {
        "StartAt": names[0],
        "States": {
            name: {"Type": "Pass", **({"Next": names[i + 1]} if i + 1 < states else {"End": True})}
            for i, name in enumerate(names)
        },
    }
    return json.dumps(machine)


def run(mode: str, runs: int) -> list[float]:
    """Child: `runs` executions in this process, each timed in ms."""
    from rsetl.clock import RealClock
    from rsetl.eventbridge import EventBridge
    from rsetl.journal import Journal
    from rsetl.stepfunctions import StepFunctionsEngine

    with tempfile.TemporaryDirectory(prefix="rsetl-bench-journal-") as work:
        journal = Journal(Path(work) / "journal.sqlite3") if mode != "no journal" else None
        bridge = EventBridge(clock=RealClock())
        if journal is not None:
            bridge.keep_in(journal)
        engine = StepFunctionsEngine(
            RealClock(), journal=journal, status_events=lambda entry: bridge.publish([entry])
        )
        arn = engine.create_state_machine("chain", chain()).arn
        engine.start_execution(arn, {}, "warm-up", wait=True)
        timings = []
        for number in range(runs):
            began = time.perf_counter()
            execution = engine.start_execution(arn, {"n": number}, f"run-{number}", wait=True)
            timings.append((time.perf_counter() - began) * 1000)
            assert execution.status == "SUCCEEDED" and len(execution.history.events) == 2 * PASS_STATES + 2
        bridge.close()
        if journal is not None:
            journal.close()
    return timings


def _checkout(rev: str, into: Path) -> Path:
    """The `src` of `rev` of this repository, extracted under `into`."""
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=PROJECT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def _child(mode: str, runs: int, source: Path) -> list[float]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(source)])}
    done = subprocess.run(
        [sys.executable, "-m", "bench.journal_writer", "run", mode, str(runs)],
        cwd=PROJECT, env=environment, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return list(json.loads(done.stdout))


def main(rounds: int, runs: int, before_rev: str | None) -> dict[str, float]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-journal-src-") as work:
        modes = [(mode, PROJECT / "src") for mode in MODES]
        if before_rev is not None:
            modes.append((f"journal at {before_rev}", _checkout(before_rev, Path(work))))
        samples: dict[str, list[float]] = {label: [] for label, _ in modes}
        for _ in range(rounds):
            for label, source in modes:
                mode = "no journal" if label == "no journal" else "journal"
                samples[label].extend(_child(mode, runs, source))
    load_after = os.getloadavg()
    medians = {label: statistics.median(values) for label, values in samples.items()}
    print(
        f"One execution of {PASS_STATES} Pass states ({2 * PASS_STATES + 2} history events), run to its end"
    )
    print(f"{rounds} rounds x {runs} runs per mode, interleaved; medians")
    cores = os.cpu_count()
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {cores} cores")
    floor = medians["no journal"]
    for label, median in medians.items():
        print(f"{label:30}{median:>9.2f} ms{median / floor:>8.2f}x")
    return medians


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    child = commands.add_parser("run")
    child.add_argument("mode", choices=MODES)
    child.add_argument("runs", type=int)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--before-rev", help="also run this git revision's journal (e.g. main)")
    arguments = parser.parse_args()
    if arguments.command == "run":
        print(json.dumps(run(arguments.mode, arguments.runs)))
    else:
        main(arguments.rounds, arguments.runs, arguments.before_rev)
