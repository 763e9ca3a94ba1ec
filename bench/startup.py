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

PROJECT = Path(__file__).resolve().parents[1]
ROUNDS = 3


@dataclass(frozen=True)
class Mode:
    label: str
    prewarm: int
    """Lambda workers started per function at start-up."""
    source: Path | None = None
    """Another checkout's `src` to run instead of this one's (`--before-src`)."""


MODES = [Mode("on demand", 0), Mode("prewarm 2", 2)]
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
    from botocore.config import Config

    from rsetl.awsproto.clients import LOCAL_KEYS, local_client

    # The port is bound before the runtime serves on it: an early call waits for its answer.
    return local_client(
        "stepfunctions", f"http://127.0.0.1:{port}", "us-east-1", *LOCAL_KEYS,
        Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=120),
    )  # fmt: skip


def _start(state_dir: Path, mode: Mode) -> Start:
    """Spawn the runtime, time it to its first answer, read its memory, stop it."""
    port = _free_port()
    client = _client(port)
    command = [sys.executable, "-m", "bench.startup", "serve", str(state_dir), str(port), str(mode.prewarm)]
    environment = dict(os.environ)
    if mode.source is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(PROJECT), str(mode.source)])
    from botocore.exceptions import EndpointConnectionError

    started = time.monotonic()
    child = subprocess.Popen(
        command, cwd=PROJECT, env=environment, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
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


def serve(state_dir: Path, port: int, prewarm: int, role: str | None = None) -> None:
    """Child: the runtime `rsetl local up` starts, in `rsetl.cli.up`'s order (the template checked,
    PostgreSQL started, then the runtime imported and started), until stdin closes. With `role`, the
    runtime also knows that role (see :func:`_add_bench_role`)."""
    runtime = _start_as_up(state_dir, port, prewarm)
    if role is not None:
        _add_bench_role(runtime, role)
    try:
        sys.stdin.read()
    finally:
        runtime.stop()


def _add_bench_role(runtime: Any, role_arn: str) -> None:
    """A role Step Functions and EventBridge may assume, which may start any state machine.

    The runtime, as AWS, refuses a state machine or a rule target whose role the service may not
    assume, and it serves no IAM API to create one: its roles are the template's. The peers have no
    IAM, so bench.peers gives its machines and its rule this role, added here as CreateRole would.
    """
    from rsetl.iam import PolicyDocument
    from rsetl.iam.identities import Role

    trust = PolicyDocument.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["states.amazonaws.com", "events.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "BenchRole.AssumeRolePolicyDocument",
        resource_based=True,
    )
    start = PolicyDocument.parse(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}],
        },
        "BenchRole.Policies.start",
    )
    name = role_arn.rpartition("/")[2]
    runtime.iam.callers.roles[role_arn] = Role("BenchRole", name, role_arn, "AROABENCHPEERS", trust, (start,))


def _start_as_up(state_dir: Path, port: int, prewarm: int) -> Any:
    from rsetl.awsproto import ensure_port_free

    try:
        from rsetl.postgres import StartingServer
        from rsetl.runtime.template import load_local_template
    except ImportError:  # --before-src: a checkout whose runtime starts PostgreSQL itself, after its imports
        from rsetl.runtime import LocalRuntime, RuntimeOptions

        options = RuntimeOptions(project_dir=PROJECT, state_dir=state_dir, port=port, lambda_prewarm=prewarm)
        return LocalRuntime(options).start(lambda _: None)
    template = load_local_template(PROJECT, {})
    state_dir.mkdir(parents=True, exist_ok=True)
    ensure_port_free(port)
    postgres = StartingServer(state_dir / "postgres")
    from rsetl.runtime.runtime import LocalRuntime, RuntimeOptions

    options = RuntimeOptions(project_dir=PROJECT, state_dir=state_dir, port=port, lambda_prewarm=prewarm)
    return LocalRuntime(options, template).start(lambda _: None, postgres)


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


def main(rounds: int = ROUNDS, before_src: Path | None = None, before_prewarm: int = 2) -> None:
    before = [Mode(f"before ({before_src})", before_prewarm, before_src)] if before_src else []
    modes = MODES + before
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="rsetl-bench-startup-"))
    results: dict[tuple[str, str], list[Start]] = {}
    try:
        for round_number in range(rounds):
            for index, mode in enumerate(modes):
                state_dir = base / f"{round_number}-{index}"
                for kind in ("fresh state dir", "existing state dir"):
                    results.setdefault((mode.label, kind), []).append(_start(state_dir, mode))
                shutil.rmtree(state_dir, ignore_errors=True)
        cold = cold_and_warm(base / "cold")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load_after = os.getloadavg()

    def medians(kind: str, field: str) -> list[float]:
        return [statistics.median(getattr(s, field) for s in results[mode.label, kind]) for mode in modes]

    def row(name: str, values: list[float], unit: str, digits: int, target: float | None) -> None:
        cells = "".join(f"{value:>{width - len(unit) - 1}.{digits}f} {unit}" for value, width in
                        zip(values, widths, strict=True))  # fmt: skip
        ratios = "".join(f"{value / values[0]:>9.1f}x" for value in values[1:])
        verdict = "" if target is None else f"  target <= {target:g} {unit}: {_verdict(values[0] <= target)}"
        print(f"{name:22}{cells}{ratios}{verdict}")

    print(f"Local runtime start-up and idle memory ({rounds} rounds, interleaved; medians)")
    cores = os.cpu_count()
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {cores} cores")
    widths = [max(14, len(mode.label) + 2) for mode in modes]
    header = "".join(f"{mode.label:>{width}}" for mode, width in zip(modes, widths, strict=True))
    ratio_header = "".join(f"{'vs ' + str(i + 2):>10}" for i in range(len(modes) - 1))
    print(f"{'':22}{header}{ratio_header}   (ratio: column n / column 1)")
    for kind, target in TARGETS.items():
        row(f"start-up, {kind.split()[0]}", medians(kind, "seconds"), "s", 2, target)
    row("idle RSS, all procs", medians("existing state dir", "rss_mb"), "MB", 0, MEMORY_TARGET_MB)
    row("idle PSS, all procs", medians("existing state dir", "pss_mb"), "MB", 0, MEMORY_TARGET_MB)
    row("processes", medians("existing state dir", "processes"), "", 0, None)
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
    child.add_argument("--role", help="a role ARN the runtime knows besides the template's (bench.peers)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--before-src",
        type=Path,
        help="also run another checkout's src (e.g. main's), with --before-prewarm workers prewarmed",
    )
    parser.add_argument("--before-prewarm", type=int, default=2, help="workers per function for --before-src")
    arguments = parser.parse_args()
    if arguments.command == "serve":
        serve(arguments.state_dir, arguments.port, arguments.prewarm, arguments.role)
    else:
        main(arguments.rounds, arguments.before_src, arguments.before_prewarm)
