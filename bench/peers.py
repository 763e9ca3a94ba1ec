"""The local runtime against two other local AWS emulators, MiniStack and moto, side by side in one run.

Run: `make bench-peers` (installs MiniStack 1.5.33 and moto[server] 5.2.5 into a throwaway venv,
bench/results/.peers-venv, then runs `python -m bench.peers --peers-python <that venv's python>`).
Each emulator runs in its own process bound to 127.0.0.1; the same boto3 clients run the same
workloads against each, interleaved round by round (which emulator goes first rotates), and the
medians and the ratios to rsetl are printed, with the machine's load:

- start-up to first answer (spawn to the first ListStateMachines answer) and idle memory (RSS of
  the emulator's processes: for rsetl, PostgreSQL's too);
- one execution at a time (StartExecution, then DescribeExecution until it ends) of a 1-Pass,
  a 50-Pass, a Map over 200 items and a Choice loop of 10 turns;
- 100 executions of the 50-Pass machine from 8 threads (executions per second);
- PutEvents, batches of 10 from 4 threads, to a rule whose target is a state machine (events/s);
- TestEventPattern; S3 PutObject and GetObject of 1 KB and of 10 MB;
- the Data API pair (ExecuteStatement with WaitTimeSeconds, then GetStatementResult of `select 1`),
  served only by rsetl, against its floor: a null server answering the same two calls with
  canned JSON, through the same boto3 client.

A workload an emulator does not serve (or serves wrongly) is reported, not timed.

`python -m bench.peers --data-api-only ROUNDS` needs no peer: it runs the Data API pair alone, through
`up`'s runtime, the Data API served alone (bench.data_api_overhead's server) and the null floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from bench.startup import _descendants, _free_port, _memory_kb

PROJECT = Path(__file__).resolve().parents[1]
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench-peers"
BUCKET = "bench-peers"
SMALL, LARGE = b"x" * 1024, os.urandom(10 * 1024 * 1024)
START_ROUNDS, EXECUTION_ROUNDS, LATENCY_ROUNDS, LARGE_ROUNDS, LOAD_ROUNDS = 3, 10, 60, 6, 3
CONCURRENT, CONCURRENT_THREADS = 100, 8
EVENT_THREADS, EVENT_BATCHES = 4, 25
SETTLE_SECONDS = 2.0
"""After the first answer, how long an emulator idles before its memory is read."""
PEERS = ("rsetl", "MiniStack", "moto")


def _pass_chain(count: int) -> dict[str, Any]:
    states: dict[str, dict[str, Any]] = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(count)}
    states[f"P{count - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "P0", "States": states}


MACHINES: dict[str, dict[str, Any]] = {
    "1-Pass": _pass_chain(1),
    "50-Pass": _pass_chain(50),
    "Map of 200": {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "End": True,
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            }
        },
    },
    "Choice loop of 10": {
        "StartAt": "Turn",
        "States": {
            "Turn": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
            "Again": {
                "Type": "Choice", "Default": "Done",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 10, "Next": "Turn"}],
            },
            "Done": {"Type": "Succeed"},
        },
    },
}  # fmt: skip
INPUTS = {"Map of 200": {"items": list(range(200))}, "Choice loop of 10": {"n": 0}}


@dataclass
class Emulator:
    """One running emulator: its process, its clients and the state machines made in it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    extra_pids: Callable[[], list[int]] = lambda: []
    machines: dict[str, str] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = _client(service, self.url)
        return self.clients[service]

    def memory_mb(self) -> float:
        pids = _descendants(self.process.pid) + self.extra_pids()
        return sum(_memory_kb(pid)[0] for pid in pids) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _client(service: Any, url: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=300,
                      max_pool_connections=CONCURRENT_THREADS),
    )  # fmt: skip


def _spawn(name: str, peers_python: str, state_dir: Path) -> Emulator:
    port = _free_port()
    environment = dict(os.environ)
    extra: Callable[[], list[int]] = list
    if name == "rsetl":
        # What `rsetl local up` runs (bench.startup's child): the template, PostgreSQL, on-demand workers.
        # `--role`: the runtime refuses a role Step Functions may not assume, as AWS does (see
        # bench.startup's _add_bench_role); the peers take any role ARN.
        command = [
            sys.executable,
            "-m",
            "bench.startup",
            "serve",
            str(state_dir),
            str(port),
            "0",
            "--role",
            ROLE,
        ]
        environment["PYTHONPATH"] = os.pathsep.join([str(PROJECT / "src"), str(PROJECT)])

        def postmaster() -> list[int]:
            # pg_ctl daemonizes the postmaster: no child of the runtime; its pid file names it.
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((state_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
                return _descendants(pid)
            return []

        extra = postmaster
    elif name == "MiniStack":
        command = [peers_python, "-m", "ministack"]
        # MiniStack reads its port from GATEWAY_PORT (default 4566) and binds BIND_HOST, which
        # defaults to 0.0.0.0: set to loopback, as every server of this bench.
        environment.update(GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", LOG_LEVEL="WARNING")
    else:
        command = [peers_python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, cwd=PROJECT if name == "rsetl" else state_dir, env=environment,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return Emulator(name, process, port, extra)


def _first_answer(emulator: Emulator, started: float) -> float:
    client = _client("stepfunctions", emulator.url)
    while True:
        if emulator.process.poll() is not None:
            raise RuntimeError(f"{emulator.name} exited with status {emulator.process.returncode}")
        try:
            client.list_state_machines()
            return time.monotonic() - started
        except EndpointConnectionError:
            time.sleep(0.02)


def _prepare(emulator: Emulator) -> None:
    """Switches, a bucket, the state machines, and a rule targeting the 1-Pass machine."""
    if emulator.name == "moto":
        # moto only runs a state machine's states with its `execute_state_machine` switch on
        # (set through its /moto-api/config); otherwise an execution SUCCEEDS at once with the
        # canned history SF_EXECUTION_HISTORY_TYPE names, running nothing.
        request = urllib.request.Request(
            f"{emulator.url}/moto-api/config", method="POST",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).read()
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    sfn = emulator.client("stepfunctions")
    for label, definition in MACHINES.items():
        name = "bench-" + label.lower().replace(" ", "-")
        arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
        emulator.machines[label] = arn["stateMachineArn"]
    events = emulator.client("events")
    events.put_rule(Name="bench-peers", EventPattern=json.dumps({"source": ["bench.peers"]}))
    events.put_targets(
        Rule="bench-peers", Targets=[{"Id": "machine", "Arn": emulator.machines["1-Pass"], "RoleArn": ROLE}]
    )


def _run_to_end(sfn: Any, machine: str, payload: Any) -> str:
    # A name of its own each time: moto names an unnamed execution "None", so a second one collides.
    arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(payload))[
        "executionArn"
    ]
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"execution ended {described['status']}")
            return str(described.get("output", ""))
        time.sleep(0.002)


def _execution(label: str) -> Callable[[Emulator], float]:
    def run(emulator: Emulator) -> float:
        began = time.perf_counter()
        sfn = emulator.client("stepfunctions")
        output = _run_to_end(sfn, emulator.machines[label], INPUTS.get(label, {}))
        elapsed = time.perf_counter() - began
        if label == "Choice loop of 10" and json.loads(output) != {"n": 10}:
            raise RuntimeError(f"the loop ended with {output}, not {{'n': 10}}")
        if label == "Map of 200" and len(json.loads(output)) != 200:
            raise RuntimeError("the Map did not give 200 results")
        return elapsed

    return run


def _concurrent(emulator: Emulator) -> float:
    """Executions per second: CONCURRENT runs of the 50-Pass machine from CONCURRENT_THREADS threads."""
    sfn, machine = emulator.client("stepfunctions"), emulator.machines["50-Pass"]
    errors: list[BaseException] = []

    def share(count: int) -> None:
        try:
            for _ in range(count):
                _run_to_end(sfn, machine, {})
        except BaseException as error:
            errors.append(error)

    counts = [CONCURRENT // CONCURRENT_THREADS + (i < CONCURRENT % CONCURRENT_THREADS)
              for i in range(CONCURRENT_THREADS)]  # fmt: skip
    threads = [threading.Thread(target=share, args=(count,)) for count in counts]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return CONCURRENT / (time.perf_counter() - began)


def _put_events(emulator: Emulator) -> float:
    """Events per second accepted: EVENT_BATCHES batches of 10 from each of EVENT_THREADS threads."""
    events = emulator.client("events")
    entries = [
        {"Source": "bench.peers", "DetailType": "bench", "Detail": json.dumps({"n": n})} for n in range(10)
    ]
    failures: list[str] = []

    def send() -> None:
        try:
            for _ in range(EVENT_BATCHES):
                answer = events.put_events(Entries=entries)
                if answer.get("FailedEntryCount"):
                    failures.append(str(answer["Entries"]))
        except Exception as error:
            failures.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=send) for _ in range(EVENT_THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"refused: {failures[0][:200]}")
    return EVENT_THREADS * EVENT_BATCHES * 10 / (time.perf_counter() - began)


def _targets_ran(emulator: Emulator) -> bool:
    """Whether the rule's target, the 1-Pass machine, was started by the events sent."""
    sfn = emulator.client("stepfunctions")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sfn.list_executions(stateMachineArn=emulator.machines["1-Pass"])["executions"]:
            return True
        time.sleep(0.2)
    return False


def _test_event_pattern(emulator: Emulator) -> float:
    event = {
        "id": str(uuid.uuid4()), "account": ACCOUNT, "source": "bench.peers", "region": "us-east-1",
        "time": "2026-12-02T00:00:00Z", "resources": [], "detail-type": "bench", "detail": {"n": 1},
    }  # fmt: skip
    began = time.perf_counter()
    answer = emulator.client("events").test_event_pattern(
        EventPattern=json.dumps({"source": ["bench.peers"], "detail": {"n": [{"numeric": [">", 0]}]}}),
        Event=json.dumps(event),
    )
    elapsed = time.perf_counter() - began
    if answer["Result"] is not True:
        raise RuntimeError("TestEventPattern did not match")
    return elapsed


def _s3(operation: str, body: bytes) -> Callable[[Emulator], float]:
    key = f"object-{len(body)}"

    def run(emulator: Emulator) -> float:
        s3 = emulator.client("s3")
        began = time.perf_counter()
        if operation == "put":
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            return time.perf_counter() - began
        data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        elapsed = time.perf_counter() - began
        if data != body:
            raise RuntimeError("GetObject gave other bytes")
        return elapsed

    return run


def _data_api_pair(emulator: Emulator) -> float:
    client = emulator.client("redshift-data")
    began = time.perf_counter()
    submitted = client.execute_statement(Sql="select 1", ClusterIdentifier="bench", Database="dev",
                                         WaitTimeSeconds=30)  # fmt: skip
    records = client.get_statement_result(Id=submitted["Id"])["Records"]
    elapsed = time.perf_counter() - began
    if records != [[{"longValue": 1}]]:
        raise RuntimeError(f"select 1 gave {records}")
    return elapsed


class _NullDataApi(BaseHTTPRequestHandler):
    """The floor: answers ExecuteStatement and GetStatementResult with canned JSON, reading nothing."""

    protocol_version = "HTTP/1.1"
    ANSWERS = {
        "RedshiftData.ExecuteStatement": {"Id": "00000000-0000-0000-0000-000000000000", "Status": "FINISHED",
                                          "ClusterIdentifier": "bench", "Database": "dev"},
        "RedshiftData.GetStatementResult": {"Records": [[{"longValue": 1}]], "TotalNumRows": 1,
                                            "ColumnMetadata": [{"name": "?column?", "typeName": "int4"}]},
    }  # fmt: skip

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: as the servers measured

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(self.ANSWERS[self.headers["X-Amz-Target"]]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve_null() -> None:
    """Child (`python -m bench.peers null PORT`): the null Data API until stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), _NullDataApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


Workload = Callable[[Emulator], float]
ROWS: list[tuple[str, Workload, int, str]] = [
    *((f"execution, {label}", _execution(label), EXECUTION_ROUNDS, "ms") for label in MACHINES),
    (f"{CONCURRENT} executions of 50-Pass, {CONCURRENT_THREADS} threads", _concurrent, LOAD_ROUNDS, "exec/s"),
    (f"PutEvents x10, {EVENT_THREADS} threads, rule -> machine", _put_events, LOAD_ROUNDS, "ev/s"),
    ("TestEventPattern", _test_event_pattern, LATENCY_ROUNDS, "ms"),
    ("S3 PutObject 1 KB", _s3("put", SMALL), LATENCY_ROUNDS, "ms"),
    ("S3 GetObject 1 KB", _s3("get", SMALL), LATENCY_ROUNDS, "ms"),
    ("S3 PutObject 10 MB", _s3("put", LARGE), LARGE_ROUNDS, "ms"),
    ("S3 GetObject 10 MB", _s3("get", LARGE), LARGE_ROUNDS, "ms"),
    ("Data API ExecuteStatement+GetStatementResult", _data_api_pair, LATENCY_ROUNDS, "ms"),
]


def _measure(emulators: list[Emulator], workload: Workload, rounds: int) -> dict[str, float | str]:
    """Median per emulator over interleaved rounds (the first emulator rotates); a failure is its text."""
    samples: dict[str, list[float]] = {e.name: [] for e in emulators}
    failed: dict[str, str] = {}
    for emulator in emulators:  # one untimed call each: connections opened, code paths warm
        try:
            workload(emulator)
        except Exception as error:
            failed[emulator.name] = f"{type(error).__name__}: {str(error)[:90]}"
    for round_number in range(rounds):
        turn = emulators[round_number % len(emulators) :] + emulators[: round_number % len(emulators)]
        for emulator in turn:
            if emulator.name not in failed:
                try:
                    samples[emulator.name].append(workload(emulator))
                except Exception as error:
                    failed[emulator.name] = f"{type(error).__name__}: {str(error)[:90]}"
    return {name: failed.get(name) or statistics.median(values) for name, values in samples.items()}


def _start_ups(peers_python: str, base: Path, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per emulator: start-up seconds (fresh state) and idle RSS MB, over interleaved rounds."""
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in PEERS}
    for round_number in range(rounds):
        for name in PEERS[round_number % 3 :] + PEERS[: round_number % 3]:
            state_dir = base / f"start-{name}-{round_number}"
            state_dir.mkdir()
            began = time.monotonic()
            emulator = _spawn(name, peers_python, state_dir)
            try:
                found[name][0].append(_first_answer(emulator, began))
                time.sleep(SETTLE_SECONDS)
                found[name][1].append(emulator.memory_mb())
            finally:
                emulator.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
    return found


def _format(value: float | str | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return "fails"
    return f"{value * 1000:.2f} ms" if unit == "ms" else f"{value:,.0f} {unit}"


def _ratio(ours: float | str | None, theirs: float | str | None, unit: str) -> str:
    """How many times better rsetl is: their time over ours, or our rate over theirs."""
    if not isinstance(ours, float) or not isinstance(theirs, float):
        return "-"
    return f"{(theirs / ours if unit in ('ms', 's', 'MB') else ours / theirs):.2f}x"


def main(peers_python: str, output: Path | None, quick: bool = False) -> None:
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="rsetl-bench-peers-"))
    emulators: list[Emulator] = []
    null: subprocess.Popen[bytes] | None = None
    table: dict[str, dict[str, float | str | None]] = {}
    notes: list[str] = []
    try:
        starts = _start_ups(peers_python, base, 1 if quick else START_ROUNDS)
        table["start-up to first answer"] = {n: statistics.median(starts[n][0]) for n in PEERS}
        table["idle memory, all processes"] = {n: statistics.median(starts[n][1]) for n in PEERS}
        for name in PEERS:
            state_dir = base / f"run-{name}"
            state_dir.mkdir()
            emulator = _spawn(name, peers_python, state_dir)
            emulators.append(emulator)
            _first_answer(emulator, time.monotonic())
            _prepare(emulator)
        floor = _spawn_data_api()
        null = floor.process
        for label, workload, rounds, _ in ROWS:
            served = [*emulators, floor] if "Data API" in label else emulators
            measured = _measure(served, workload, 2 if quick else rounds)
            table[label] = {n: measured.get(n) for n in (*PEERS, "null server")}
            for name, value in measured.items():
                if isinstance(value, str):
                    notes.append(f"{label}, {name}: {value}")
            if label.startswith("PutEvents"):
                for emulator in emulators:
                    if isinstance(measured.get(emulator.name), float) and not _targets_ran(emulator):
                        notes.append(f"{label}, {emulator.name}: accepted, but the target machine never ran")
                        table[label][emulator.name] = "target never ran"
    finally:
        for emulator in emulators:
            emulator.stop()
        if null is not None and null.stdin is not None:
            null.stdin.close()
            null.wait(10)
        shutil.rmtree(base, ignore_errors=True)
    load_after = os.getloadavg()
    units = {label: unit for label, _, _, unit in ROWS} | {"start-up to first answer": "s",
                                                          "idle memory, all processes": "MB"}  # fmt: skip
    _print(table, units, notes, load_before, load_after)
    if output is not None:
        output.write_text(json.dumps({"table": table, "units": units, "notes": notes,
                                      "load": [load_before[0], load_after[0]]}, indent=2) + "\n")  # fmt: skip
        from bench.plots import plot_peers

        print(f"plot: {plot_peers(table, units, output.with_suffix('.png'))}")


def _spawn_data_api(kind: str = "null", name: str = "null server") -> Emulator:
    """The null Data API (or, `standalone`, bench.data_api_overhead's server) in a process of its own,
    once it answers."""
    port = _free_port()
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), str(PROJECT)]))
    process = subprocess.Popen([sys.executable, "-m", "bench.peers", kind, str(port)], cwd=PROJECT,
                               env=environment, stdin=subprocess.PIPE)  # fmt: skip
    floor = Emulator(name, process, port)
    _first_answer_null(floor)
    return floor


def _serve_standalone() -> None:
    """Child (`python -m bench.peers standalone PORT`): the Data API alone, on an embedded PostgreSQL,
    as bench.data_api_overhead serves it, until stdin closes."""
    from rsetl.redshift_data import serve

    with tempfile.TemporaryDirectory(prefix="rsetl-bench-standalone-") as state_dir:
        endpoint = serve(Path(state_dir), port=int(sys.argv[2]))
        try:
            sys.stdin.read()
        finally:
            endpoint.stop()


def data_api_floor(rounds: int) -> None:
    """Only the Data API pair (`--data-api-only`: no peer is installed or run): `up`'s, the server of
    bench.data_api_overhead (the Data API alone), and their floor, interleaved."""
    load_before = os.getloadavg()
    servers: list[Emulator] = []
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-peers-") as state_dir:
        try:
            servers.append(_spawn("rsetl", sys.executable, Path(state_dir)))
            _first_answer(servers[0], time.monotonic())
            servers.append(_spawn_data_api("standalone", "Data API alone"))
            servers.append(_spawn_data_api())
            measured = _measure(servers, _data_api_pair, rounds)
        finally:
            for server in servers:
                server.stop()
    load_after = os.getloadavg()
    print(f"Data API pair (select 1), {rounds} interleaved rounds, medians; load average (1 min) "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores")  # fmt: skip
    floor = measured["null server"]
    for name, value in measured.items():
        ratio = (
            f" ({value / floor:.2f}x the floor)"
            if isinstance(value, float) and isinstance(floor, float)
            else ""
        )
        print(f"{'rsetl local up' if name == 'rsetl' else name:16}{_format(value, 'ms'):>10}{ratio}")
    print("target: rsetl local up <= 1.5x the floor")


def _first_answer_null(floor: Emulator) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, EndpointConnectionError):
            _data_api_pair(floor)
            return
        time.sleep(0.05)
    raise RuntimeError("the null Data API did not answer")


def _print(
    table: dict[str, dict[str, float | str | None]],
    units: dict[str, str],
    notes: list[str],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> None:
    print("rsetl local up against MiniStack 1.5.33 and moto 5.2.5 (medians; interleaved rounds)")
    cores = os.cpu_count()
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {cores} cores")
    print(f"{'figure':52}{'rsetl':>14}{'MiniStack':>14}{'moto':>14}{'null server':>14}"
          f"{'vs MiniStack':>14}{'vs moto':>10}")  # fmt: skip
    for label, values in table.items():
        unit = units[label]
        shown = {
            name: (f"{v:.2f} s" if unit == "s" and isinstance(v, float) else
                   f"{v:.0f} MB" if unit == "MB" and isinstance(v, float) else _format(v, unit))
            for name, v in values.items()
        }  # fmt: skip
        ours = values.get("rsetl")
        cells = "".join(f"{shown.get(name, '-'):>14}" for name in (*PEERS, "null server"))
        ratios = (
            f"{_ratio(ours, values.get('MiniStack'), unit):>14}{_ratio(ours, values.get('moto'), unit):>10}"
        )
        print(f"{label:52}{cells}{ratios}")
    pair = table.get("Data API ExecuteStatement+GetStatementResult", {})
    ours, floor = pair.get("rsetl"), pair.get("null server")
    if isinstance(ours, float) and isinstance(floor, float):
        print(f"Data API pair against its floor (the null server): {ours / floor:.2f}x (target <= 1.5x)")
    print("ratios: how many times better rsetl is (above 1: rsetl ahead)")
    for note in notes:
        print(f"  {note}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["null"]:
        _serve_null()
    elif sys.argv[1:2] == ["standalone"]:
        _serve_standalone()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--peers-python", help="python of a venv with ministack and moto[server]")
        parser.add_argument(
            "--data-api-only", type=int, metavar="ROUNDS",
            help="only the Data API pair against its floor, over ROUNDS rounds (no peers needed)",
        )  # fmt: skip
        parser.add_argument("--output", type=Path, help="write the table as JSON here (for bench.plots)")
        parser.add_argument("--quick", action="store_true", help="two rounds a row: a check that all runs")
        arguments = parser.parse_args()
        if arguments.data_api_only:
            data_api_floor(arguments.data_api_only)
        elif arguments.peers_python is None:
            parser.error("--peers-python is required, unless --data-api-only")
        else:
            main(arguments.peers_python, arguments.output, arguments.quick)
