"""A burst of uploads through the local runtime on a virtual clock: what each file costs as the burst grows,
per file and batched (the template's SalesLoads) side by side.

Each size runs on fresh state, once per design: `files` sales files (three rows each) land in the
landing bucket from parallel uploaders, a fifth of the S3 rule's deliveries are duplicated, and one
file is bad (a negative quantity). It is timed from the first upload until nothing is under way, and
counted: executions, state transitions, Lambda invocations (the state machine's tasks, the event-source
mapping's batches and the asynchronous invocations), Data API submits, Redshift transactions (a
TRANSACTION batch or an ExecuteStatement), view refreshes, SQS requests, and the AWS cost per 1,000
files from `bench.cost`. Then a lone upload per design: its latency on the virtual clock, batched
against per file.

Run alone: `.venv/bin/python -m bench.burst [100 1000 5000]`; `--profile N` writes a cProfile of an
N-file per-file burst to bench/results/burst-N.prof.
"""

from __future__ import annotations

import cProfile
import hashlib
import json
import math
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from bench.cost import RunCounts, lambda_gb_seconds, run_cost
from bench.project import REPO
from bench.waiting import COMPUTE_SECONDS
from rsetl.cli.demo import DEMO_START
from rsetl.clock import VirtualClock
from rsetl.lambdas.event_source_mapping import BatchOutcome
from rsetl.runtime import LocalRuntime, RuntimeOptions

SIZES = (100, 1000, 5000)
PER_FILE = "per-file"
"""One S3 event, one RunPipeline execution, one transaction per file (the template's SalesLoads: PER_FILE)."""
BATCHED = "batched"
"""S3 events gather in the SalesUploadsQueue; one ingest_sales_batch run and transaction per 19 files
(SalesLoads: BATCHED)."""
DESIGNS = {PER_FILE: "PER_FILE", BATCHED: "BATCHED"}
"""Each design's SalesLoads template parameter."""
DELIVERY_TARGETS = {PER_FILE: "RunPipelineStateMachine", BATCHED: "SalesUploadsQueue"}
"""Where each design's S3 rule delivers (its duplicated deliveries)."""
DUPLICATE_SHARE = 5
"""One delivery in this many to the state machine is duplicated (EventBridge delivers at least once)."""
UPLOADERS = 16
ROWS_PER_FILE = 3
HEADER = (
    "order_id,line_number,order_ts,store_id,product_sku,customer_id,quantity,unit_price,discount,currency"
)
REFRESH_PROCEDURES = ("sp_refresh_mv_daily_store_sales", "sp_refresh_mv_category_sales")
RESULTS_DIR = REPO / "bench" / "results"
LAMBDA_MEMORY_MB = 256
"""The template's Globals MemorySize."""


@dataclass
class Burst:
    """What one burst of `files` uploads cost, all files loaded or quarantined."""

    design: str
    files: int
    duplicated_deliveries: int
    executions: int
    failed_executions: int
    state_transitions: int
    lambda_invocations: int
    data_api_submits: int
    redshift_transactions: int
    view_refreshes: int
    loaded_files: int
    quarantined_files: int
    wall_seconds: float
    cost_per_1000_files: float
    virtual_seconds_to_last_load: float = 0.0
    """From the first upload to the end of the last ingest run, on the virtual clock (a lone file's
    latency; in a burst, concurrent runs' waits overlap on the one clock)."""

    @property
    def wall_seconds_per_file(self) -> float:
        return self.wall_seconds / self.files

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "wall_seconds_per_file": self.wall_seconds_per_file}


def sales_file(tag: str, *, bad: bool = False) -> bytes:
    """A sales_lines file whose order ids are unique to `tag`; a bad one has a negative quantity."""
    prefix = hashlib.md5(tag.encode(), usedforsecurity=False).hexdigest()[:12]
    lines = [HEADER] + [
        f"{prefix}-{n:06d},1,2026-11-06 10:00:00,ST001,SKU-100001,C0000001,{-1 if bad else 1 + n},2.50,0.00,"
        "USD"
        for n in range(ROWS_PER_FILE)
    ]
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def burst_runtime(work: Path, design: str = PER_FILE) -> Iterator[LocalRuntime]:
    """A started runtime over the repository's template on a virtual clock, fresh state in `work`."""
    options = RuntimeOptions(
        project_dir=REPO, state_dir=work, clock=VirtualClock(DEMO_START),
        parameter_overrides={"SalesLoads": DESIGNS[design]},
    )  # fmt: skip
    runtime = LocalRuntime(options)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def _landing_bucket(runtime: LocalRuntime) -> str:
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    return str(bucket.ref)


def client(runtime: LocalRuntime, service: str) -> Any:
    """A boto3 client of `runtime`'s endpoint with its credentials."""
    session = boto3.session.Session(
        region_name=runtime.template.region,
        aws_access_key_id=runtime.access_key,
        aws_secret_access_key=runtime.secret_key,
    )
    return session.client(service, endpoint_url=runtime.url)  # type: ignore[call-overload]


def _upload_all(runtime: LocalRuntime, files: int) -> None:
    s3 = client(runtime, "s3")
    bucket = _landing_bucket(runtime)

    def put(n: int) -> None:
        # A lone upload is a good one: it measures a load's latency.
        bad = n == 0 and files > 1
        s3.put_object(
            Bucket=bucket, Key=f"sales/2026/11/06/burst-{n:05d}.csv", Body=sales_file(str(n), bad=bad)
        )

    with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
        list(pool.map(put, range(files)))


def run_burst(files: int, design: str = PER_FILE) -> Burst:
    """One burst of `files` uploads (one bad, a fifth of the deliveries duplicated) on fresh state."""
    with (
        tempfile.TemporaryDirectory(prefix="rsetl-bench-burst-") as work,
        burst_runtime(Path(work), design) as runtime,
    ):
        assert runtime.redshift_data is not None and runtime.async_lambda is not None
        target = runtime.template.resources[DELIVERY_TARGETS[design]]
        duplicates = files // DUPLICATE_SHARE
        runtime.events.dispatcher.faults.duplicate(str(target.arn), times=duplicates)
        started, uploaded_at = time.perf_counter(), runtime.clock.now()
        _upload_all(runtime, files)
        if not runtime.settle(timeout=3600):
            raise TimeoutError(f"a burst of {files} files did not settle within an hour")
        wall = time.perf_counter() - started
        burst = _count(runtime, design, files, duplicates, wall)
        ends = [
            e.stop_date
            for e in runtime.stepfunctions.executions.values()
            if str(e.input.get("pipeline", "")).startswith("ingest_") and e.stop_date is not None
        ]
        burst.virtual_seconds_to_last_load = (max(ends) - uploaded_at).total_seconds()
        return burst


def _count(runtime: LocalRuntime, design: str, files: int, duplicates: int, wall: float) -> Burst:
    assert runtime.redshift_data is not None and runtime.async_lambda is not None
    executions = list(runtime.stepfunctions.executions.values())
    statements = runtime.redshift_data.statements()
    transactions = sum(
        1
        for s in statements
        if not s.is_batch or s.request.get("ExecutionMode", "TRANSACTION") == "TRANSACTION"
    )
    refreshes = sum(1 for s in statements for sub in s.subs if any(p in sub.sql for p in REFRESH_PROCEDURES))
    assert runtime.postgres is not None
    with runtime.postgres.connect("dev") as conn:
        ledger: dict[str, int] = dict(
            conn.execute(
                "SELECT status, count(*) FROM etl.load_ledger"
                " WHERE object_key LIKE 'sales/2026/11/06/burst-%'"
                " GROUP BY 1"
            ).fetchall()
        )
    async_attempts = sum(i.attempts for i in runtime.async_lambda.invocations)
    task_invocations = sum(e.history.stats.lambda_invocations for e in executions)
    batches = [outcome for poller in runtime.queue_pollers for outcome in poller.outcomes]
    # Billed as compute only: on a virtual clock shared by concurrent runs, a task's virtual duration
    # also holds the other runs' waits.
    invocations = task_invocations + async_attempts + len(batches)
    gb_seconds = lambda_gb_seconds([0.0] * invocations, LAMBDA_MEMORY_MB, COMPUTE_SECONDS)
    transitions = sum(e.history.stats.state_transitions for e in executions)
    events_put = sum(
        1 for record in runtime.events.events() if record.event.get("source") == "rsetl.pipeline"
    )
    counts = RunCounts(transitions, invocations, gb_seconds, events_put, _sqs_requests(batches))
    return Burst(
        design=design,
        files=files,
        duplicated_deliveries=duplicates,
        executions=len(executions),
        failed_executions=sum(e.status != "SUCCEEDED" for e in executions),
        state_transitions=transitions,
        lambda_invocations=invocations,
        data_api_submits=len(statements),
        redshift_transactions=transactions,
        view_refreshes=refreshes,
        loaded_files=int(ledger.get("LOADED", 0)),
        quarantined_files=int(ledger.get("FAILED", 0)),
        wall_seconds=wall,
        cost_per_1000_files=run_cost(counts).total * 1000 / files,
    )


def _sqs_requests(batches: list[BatchOutcome]) -> int:
    """SendMessage per message, and per batch its ReceiveMessage and DeleteMessageBatch calls (10
    messages each). The mapping's pollers' empty long polls between bursts are not counted."""
    sent = {m for batch in batches for m in batch.message_ids}
    per_ten = sum(math.ceil(len(b.message_ids) / 10) + math.ceil(len(b.deleted) / 10) for b in batches)
    return len(sent) + per_ten


def lone_upload_latency(design: str) -> float:
    """Virtual seconds from a lone upload to the end of its load."""
    return run_burst(1, design).virtual_seconds_to_last_load


def profile(files: int) -> Path:
    """A cProfile of one `files`-file burst, every thread's own profile merged (the work runs in the
    runtime's threads, which cProfile alone does not see)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"burst-{files}.prof"
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.runcall(original_run, thread)

    main_profiler = cProfile.Profile()
    with mock.patch.object(threading.Thread, "run", profiled_run):
        main_profiler.runcall(run_burst, files)
    stats = pstats.Stats(main_profiler)
    for profiler in profiles:
        try:
            stats.add(profiler)
        except TypeError:  # a thread still running when the burst ended has no stats yet
            continue
    stats.dump_stats(str(path))
    return path


def main(argv: list[str]) -> None:
    """Each size in turn (a JSON line each), then `bench/results/burst.json` and `burst.png`."""
    if argv[:1] == ["--profile"]:
        print(profile(int(argv[1])))
        return
    from bench.plots import plot_burst

    bursts = []
    for files in [int(a) for a in argv] or list(SIZES):
        for design in DESIGNS:
            bursts.append(run_burst(files, design))
            print(json.dumps(bursts[-1].to_json()), flush=True)
    lone = {design: lone_upload_latency(design) for design in DESIGNS}
    latency = {"lone_upload_seconds": lone, "batched_over_per_file": lone[BATCHED] / lone[PER_FILE]}
    print(json.dumps(latency), flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = {"bursts": [b.to_json() for b in bursts], "lone_upload": latency}
    (RESULTS_DIR / "burst.json").write_text(json.dumps(results, indent=2) + "\n")
    print(plot_burst(bursts, RESULTS_DIR / "burst.png"))


if __name__ == "__main__":
    main(sys.argv[1:])
