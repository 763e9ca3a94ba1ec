"""Start-up time and idle memory of the local runtime, with Lambda workers on demand vs prewarmed.

Run: `.venv/bin/python -m bench.startup`. Each round starts the runtime in a child process
(`python -m bench.startup serve ...`: what `rsetl local up` runs, with `lambda_prewarm` set) and
times it from spawn to the first answer of its endpoint (a ListStateMachines call), on a fresh and
on an existing state dir; then sums the memory of the child and all its descendants (PostgreSQL,
Lambda workers) once start-up is over. The modes run interleaved, round by round, so that the
machine's load weighs on both alike; medians and ratios are printed, with the load average.

Then, in the on-demand runtime, the first (cold) invocation of each function against its second
(warm) one: what starting workers on demand costs the first caller.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

PROJECT = Path(__file__).resolve().parents[1]
ROUNDS = 3
MODES = {"on demand": 0, "prewarm 2 (before)": 2}
"""Label -> Lambda workers started per function at start-up."""
SETTLE_SECONDS = 2.0
"""After the first answer, how long to wait before reading memory (prewarmed workers finish init)."""
TARGETS = {"existing state dir": 2.0, "fresh state dir": 4.0}
MEMORY_TARGET_MB = 250.0


@dataclass(frozen=True)
class Start:
    seconds: float
    rss_mb: float
    pss_mb: float
    processes: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS shares shared pages (PostgreSQL's buffers) fairly."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "Rss":
                rss = int(value.split()[0])
            elif name == "Pss":
                pss = int(value.split()[0])
    return rss, pss


def _client(port: int) -> Any:
    # The port is bound before the runtime serves on it: an early call waits for its answer.
    return boto3.client(
        "stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=120),
    )  # fmt: skip


def _start(state_dir: Path, prewarm: int) -> Start:
    """Spawn the runtime, time it to its first answer, read its memory, stop it."""
    port = _free_port()
    client = _client(port)
    command = [sys.executable, "-m", "bench.startup", "serve", str(state_dir), str(port), str(prewarm)]
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the runtime exited with status {child.returncode} before answering")
            try:
                client.list_state_machines()
                break
            except EndpointConnectionError:
                time.sleep(0.02)
        seconds = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        # pg_ctl daemonizes the postmaster: it is no child of the runtime, its pid file names it.
        postmaster = int((state_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
        pids = _descendants(child.pid) + _descendants(postmaster)
        rss, pss = (sum(values) for values in zip(*(_memory_kb(pid) for pid in pids), strict=True))
        return Start(seconds, rss / 1024, pss / 1024, len(pids))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(60)


def serve(state_dir: Path, port: int, prewarm: int) -> None:
    """Child: the runtime `rsetl local up` starts, until stdin closes."""
    from rsetl.runtime import LocalRuntime, RuntimeOptions

    options = RuntimeOptions(project_dir=PROJECT, state_dir=state_dir, port=port, lambda_prewarm=prewarm)
    runtime = LocalRuntime(options).start(lambda _: None)
    try:
        sys.stdin.read()
    finally:
        runtime.stop()


def cold_and_warm(state_dir: Path) -> dict[str, tuple[float, float]]:
    """Per function: (first invocation, second invocation) in ms, in an on-demand runtime."""
    from rsetl.runtime import LocalRuntime, RuntimeOptions

    runtime = LocalRuntime(RuntimeOptions(project_dir=PROJECT, state_dir=state_dir)).start(lambda _: None)
    timings: dict[str, tuple[float, float]] = {}
    try:
        assert runtime.lambdas is not None
        for function in runtime.template.of_type("AWS::Lambda::Function"):
            samples = []
            for _ in range(2):
                began = time.perf_counter()
                # Any payload will do: what is timed is the environment, not the handler's work.
                runtime.lambdas.invoke(function.ref, {"bench": "startup"})
                samples.append((time.perf_counter() - began) * 1000)
            timings[function.logical_id] = (samples[0], samples[1])
    finally:
        runtime.stop()
    return timings


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def main(rounds: int = ROUNDS) -> None:
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="rsetl-bench-startup-"))
    results: dict[tuple[str, str], list[Start]] = {}
    try:
        for round_number in range(rounds):
            for label, prewarm in MODES.items():
                state_dir = base / f"{round_number}-{prewarm}"
                results.setdefault((label, "fresh state dir"), []).append(_start(state_dir, prewarm))
                results.setdefault((label, "existing state dir"), []).append(_start(state_dir, prewarm))
                shutil.rmtree(state_dir, ignore_errors=True)
        cold = cold_and_warm(base / "cold")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load_after = os.getloadavg()

    def median(label: str, kind: str, field: str) -> float:
        return statistics.median(getattr(start, field) for start in results[label, kind])

    on_demand, prewarmed = MODES
    print(f"Local runtime start-up and idle memory ({rounds} rounds, interleaved; medians)")
    cores = os.cpu_count()
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {cores} cores")
    print(f"{'':22}{on_demand:>14}{prewarmed:>20}{'ratio':>8}{'target':>10}")
    for kind, target in TARGETS.items():
        ours, before = median(on_demand, kind, "seconds"), median(prewarmed, kind, "seconds")
        print(
            f"{'start-up, ' + kind.split()[0]:22}{ours:>12.2f} s{before:>18.2f} s{before / ours:>7.1f}x"
            f"{'<= ' + format(target, 'g') + ' s':>10} {_verdict(ours <= target)}"
        )
    for field, name in (("rss_mb", "idle RSS, all procs"), ("pss_mb", "idle PSS, all procs")):
        ours, before = (
            median(on_demand, "existing state dir", field),
            median(prewarmed, "existing state dir", field),
        )
        verdict = f"{'<= ' + format(MEMORY_TARGET_MB, 'g') + ' MB':>10} {_verdict(ours <= MEMORY_TARGET_MB)}"
        print(f"{name:22}{ours:>11.0f} MB{before:>17.0f} MB{before / ours:>7.1f}x{verdict}")
    processes = [median(label, "existing state dir", "processes") for label in MODES]
    print(f"{'processes':22}{processes[0]:>14.0f}{processes[1]:>20.0f}")
    print()
    print("First invocation of each function on demand (cold: its worker starts) vs the second (warm), ms")
    for name, (first, second) in cold.items():
        print(f"{name:34}{first:>9.0f}{second:>9.1f}")
    first, second = (statistics.median(times) for times in zip(*cold.values(), strict=True))
    print(f"{'median':34}{first:>9.0f}{second:>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    child = commands.add_parser("serve")
    child.add_argument("state_dir", type=Path)
    child.add_argument("port", type=int)
    child.add_argument("prewarm", type=int)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    arguments = parser.parse_args()
    if arguments.command == "serve":
        serve(arguments.state_dir, arguments.port, arguments.prewarm)
    else:
        main(arguments.rounds)
