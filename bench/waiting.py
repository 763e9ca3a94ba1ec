"""Cost of waiting: RunPipeline vs a fixed 5 s DescribeStatement poll loop, on the virtual clock.

Both machines run in one local runtime wired from template.yaml on a VirtualClock: RunPipeline
with the real handlers in their Lambda workers, the reference (bench/reference_poll.asl.json)
with `aws-sdk:redshiftdata` tasks, deployed with its own role (bench/reference_poll.yaml). Each
runs one statement whose duration the local Data API simulates, so a 24-hour statement and its
polling take seconds of real time.

Run alone: `.venv/bin/python -m bench.waiting` (`--durations 1 30` for a short run).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from bench.cost import RunCounts, lambda_gb_seconds
from bench.project import BENCH_PIPELINE, BENCH_SQL_MARKER, REFERENCE_NAME, bench_project
from rsetl.awsproto import AwsRequest, AwsResponse
from rsetl.awsproto.clients import local_client
from rsetl.clock import VirtualClock
from rsetl.redshift_data import RedshiftDataService
from rsetl.runtime import LocalRuntime, RuntimeOptions

DURATIONS = (1, 30, 300, 3600, 86_400)
REFERENCE_POLL_SECONDS = 5
COMPUTE_SECONDS = 0.05
"""Handler time billed per Lambda invocation on top of its Data API waits (an assumption)."""
PHASES = (0.0, 1.7, 3.4)
"""Offsets added to each duration for the latency runs, so a statement does not always end on a poll."""
MAX_STATEMENT_SECONDS = 86_400
HISTORY_TARGET = 5_000
"""'Well inside 25,000 history events': a fifth of the limit."""
RUNNING = ("SUBMITTED", "PICKED", "STARTED")
CATCH_UP_SECONDS = 10.0
"""Real seconds a DescribeStatement waits at most for the statement's real work to catch up."""
OURS, REFERENCE = "rsetl", "reference"


@dataclass
class PollRun:
    """The figures of one execution waiting for one statement."""

    machine: str
    duration: int
    status: str
    error: str | None
    state_transitions: int
    step_transitions: int
    lambda_invocations: int
    lambda_gb_seconds: float
    data_api_calls: int
    history_events: int
    detection_latency: float | None
    worst_latency: float | None
    virtual_seconds: float
    real_seconds: float
    events_put: int

    @property
    def counts(self) -> RunCounts:
        return RunCounts(
            self.state_transitions, self.lambda_invocations, self.lambda_gb_seconds, self.events_put
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Targets:
    """RunPipeline's targets for one statement duration."""

    duration: int
    max_step_transitions: int | None
    max_history_events: int | None
    max_latency: float

    @classmethod
    def for_duration(cls, duration: int) -> Targets:
        transitions = 10 if duration < 30 else 80 if duration <= 3600 else None
        history = HISTORY_TARGET if duration > 3600 else None
        return cls(duration, transitions, history, max(2.0, 0.05 * duration))

    def misses(self, run: PollRun) -> list[str]:
        """What `run` misses of these targets (empty when it meets them all)."""
        missed = []
        if run.status != "SUCCEEDED":
            missed.append(f"run {run.status}")
        if self.max_step_transitions is not None and run.step_transitions > self.max_step_transitions:
            missed.append(f"{run.step_transitions} transitions > {self.max_step_transitions}")
        if self.max_history_events is not None and run.history_events > self.max_history_events:
            missed.append(f"{run.history_events} history events > {self.max_history_events}")
        if run.worst_latency is None or run.worst_latency > self.max_latency:
            missed.append(f"latency {run.worst_latency} s > {self.max_latency:g} s")
        return missed


def phased_duration(duration: int, phase: float) -> float:
    """`duration` moved by `phase`, kept within the Data API's 24-hour statement limit."""
    if phase and duration + phase >= MAX_STATEMENT_SECONDS:
        return duration - PHASES[-1] - 1 + phase
    return duration + phase


class DataApiCalls:
    """Counts the requests the local Data API serves, by operation.

    Submitting and describing let the statement's real work catch up with the virtual clock: a
    Wait state jumps 5 s at once, while logging in and running the SQL take real time that a 5 s
    poll on AWS would always cover. Without it the reference polls a statement still PICKED, and
    its simulated duration starts at the first poll instead of at its submission.
    """

    def __init__(self, service: RedshiftDataService, clock: VirtualClock) -> None:
        self._service, self._clock = service, clock
        self._handle = service.handle
        self.calls: Counter[str] = Counter()

    def __call__(self, request: AwsRequest, context: Any) -> AwsResponse:
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        self.calls[operation] += 1
        if operation == "DescribeStatement":
            self._catch_up(str(json.loads(request.body).get("Id", "")))
        response = self._handle(request, context)
        if operation == "ExecuteStatement" and response.status == 200:
            self._catch_up(str(json.loads(response.body).get("Id", "")))
        return response

    def _catch_up(self, statement_id: str) -> None:
        """Wait in real time (the virtual clock stands still) until the statement's SQL has run,
        and, once its simulated duration is over, until it has ended."""
        parent = statement_id.partition(":")[0]
        statement = next((s for s in self._service.statements() if s.id == parent), None)
        if statement is None:
            return
        statement.work_done.wait(CATCH_UP_SECONDS)
        end = statement.simulated_end
        if end is None or self._clock.now() >= end:
            statement.done.wait(CATCH_UP_SECONDS)


def step_states(definition: Mapping[str, Any], first: str = "ExecuteStep") -> set[str]:
    """Names of the states of the (innermost) processor that starts at `first`: one step's loop."""
    for state in definition["States"].values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found = step_states(processor, first)
            if found:
                return found
    return set(definition["States"]) if definition.get("StartAt") == first else set()


def task_result(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The result of a TaskSucceeded event: a Lambda's Payload or an SDK call's response."""
    if event["type"] != "TaskSucceeded":
        return None
    output = json.loads(event["taskSucceededEventDetails"]["output"])
    payload = output.get("Payload", output) if isinstance(output, dict) else output
    return payload if isinstance(payload, dict) else None


def noticed(events: list[dict[str, Any]]) -> tuple[str, datetime] | None:
    """The statement id and the moment a task first reported it ended, if one did."""
    for event in events:
        result = task_result(event)
        if result is None:
            continue
        status = result.get("status", result.get("Status"))
        statement_id = result.get("id", result.get("Id"))
        if isinstance(status, str) and status not in RUNNING and statement_id:
            return str(statement_id), event["timestamp"]
    return None


def lambda_waits(events: list[dict[str, Any]]) -> list[float]:
    """Virtual seconds of each Lambda invocation, from TaskStarted to its end (sequential tasks)."""
    waits, started = [], None
    for event in events:
        details: Any = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if not isinstance(details, dict) or details.get("resourceType") != "lambda":
            continue
        if event["type"] == "TaskStarted":
            started = event["timestamp"]
        elif event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and started is not None:
            waits.append((event["timestamp"] - started).total_seconds())
            started = None
    return waits


class WaitingBench:
    """One local runtime on a virtual clock, both machines, one execution per (machine, duration)."""

    def __init__(self, runtime: LocalRuntime, clock: VirtualClock) -> None:
        self.runtime, self.clock = runtime, clock
        assert runtime.redshift_data is not None
        self.data_api = runtime.redshift_data
        machines = list(runtime.stepfunctions.machines.values())
        (self.ours,) = [m for m in machines if "RunPipeline" in m.name]
        (self.reference,) = [m for m in machines if m.name == REFERENCE_NAME]
        self.step_states = step_states(json.loads(self.ours.definition_text))
        parameters = runtime.template.parameters
        self.reference_input = {
            "workgroup_name": parameters["WorkgroupName"],
            "database": parameters["Database"],
            "sql": f"SELECT 1 AS {BENCH_SQL_MARKER}",
        }
        self.memory_mb = {
            f.arn: int(f.properties.get("MemorySize", 128))
            for f in runtime.template.of_type("AWS::Lambda::Function")
        }
        execute_step = runtime.template.resources["ExecuteStepFunction"]
        self.statement_readers = {
            OURS: self._data_api_client(str(execute_step.properties["Role"]), execute_step.ref),
            REFERENCE: self._data_api_client(self.reference.role_arn, "rsetl-bench-latency"),
        }
        """Per machine, a Data API client signed as a session of the role that runs its statement:
        the Data API shows a statement only to the IAM role that ran it."""

    def _data_api_client(self, role_arn: str, session_name: str) -> Any:
        caller = self.runtime.iam.callers.session(role_arn, session_name)
        return local_client(
            "redshift-data",
            self.runtime.url,
            self.runtime.template.region,
            caller.access_key,
            caller.secret_key,
        )

    def run(self, machine: str, duration: int) -> PollRun:
        """`machine` waiting for a statement of `duration` seconds; latency also `PHASES` later.

        The counts are those of the statement of exactly `duration`; `worst_latency` is the
        longest detection latency over the phase offsets.
        """
        main = self._run(machine, duration, 0.0)
        if main.status == "SUCCEEDED":
            phased = [self._run(machine, duration, phase) for phase in PHASES[1:]]
            latencies = [main.detection_latency] + [
                run.detection_latency if run.status == "SUCCEEDED" else None for run in phased
            ]
            main.worst_latency = None if None in latencies else max(x for x in latencies if x is not None)
        return main

    def _run(self, machine: str, duration: int, phase: float) -> PollRun:
        self.data_api.faults.clear()
        simulated = phased_duration(duration, phase)
        self.data_api.faults.simulate_duration(BENCH_SQL_MARKER, simulated)
        counter = DataApiCalls(self.data_api, self.clock)
        arn, payload = (
            (self.ours.arn, {"pipeline": BENCH_PIPELINE})
            if machine == OURS
            else (self.reference.arn, self.reference_input)
        )
        started = time.perf_counter()
        with mock.patch.object(self.data_api, "handle", counter):
            execution = self.runtime.stepfunctions.start_execution(
                arn, payload, f"{machine}-{duration}s-{phase:g}".replace(".", "_"), wait=True
            )
        real = time.perf_counter() - started
        events = execution.history.events
        stats = execution.history.stats
        latency = None
        seen = noticed(events)
        if seen is not None:
            described = self.statement_readers[machine].describe_statement(Id=seen[0])
            # A Wait's jump moves the end the Data API records to the poll that found it.
            ended = min(described["UpdatedAt"], described["CreatedAt"] + timedelta(seconds=simulated))
            latency = max(0.0, (seen[1] - ended).total_seconds())
        entered = [e for e in events if e["type"].endswith("StateEntered")]
        in_step = [
            e
            for e in entered
            if machine == REFERENCE or e["stateEnteredEventDetails"]["name"] in self.step_states
        ]
        memory = next(iter(self.memory_mb.values()), 128)
        return PollRun(
            machine=machine,
            duration=duration,
            status=execution.status,
            error=execution.error,
            state_transitions=stats.state_transitions,
            step_transitions=len(in_step),
            lambda_invocations=stats.lambda_invocations,
            lambda_gb_seconds=lambda_gb_seconds(lambda_waits(events), memory, COMPUTE_SECONDS),
            data_api_calls=sum(counter.calls.values()),
            history_events=len(events),
            detection_latency=latency,
            worst_latency=latency,
            virtual_seconds=(events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds(),
            real_seconds=real,
            events_put=1 if machine == OURS and execution.status == "SUCCEEDED" else 0,
        )


@contextmanager
def waiting_bench() -> Iterator[WaitingBench]:
    """A started runtime on a virtual clock over the benchmark project; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-wait-") as work:
        project = bench_project(Path(work) / "project")
        clock = VirtualClock()
        runtime = LocalRuntime(
            RuntimeOptions(project_dir=project, state_dir=Path(work) / "state", clock=clock)
        )
        runtime.start()
        try:
            yield WaitingBench(runtime, clock)
        finally:
            runtime.stop()


def measure(durations: tuple[int, ...] = DURATIONS) -> list[PollRun]:
    """Both machines for every duration, side by side in one runtime."""
    with waiting_bench() as bench:
        return [bench.run(machine, d) for d in durations for machine in (OURS, REFERENCE)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.waiting", description=__doc__.splitlines()[0])
    default = " ".join(map(str, DURATIONS))
    parser.add_argument(
        "--durations", type=int, nargs="+", default=list(DURATIONS), metavar="SECONDS",
        help=f"statement durations to measure (default: {default}; `--durations 1 30` is a short run)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for run in measure(tuple(args.durations)):
        print(json.dumps(run.to_json()))


if __name__ == "__main__":
    main()
