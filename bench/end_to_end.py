"""End to end: the demo chain through the local runtime vs the same SQL straight through psycopg.

The runtime runs on a virtual clock (Wait states cost no real time; the SQL is real) from fresh
state. It is timed from each upload (or the nightly schedule's firing) to the last completion
of the executions that follow, while every ExecuteStatement and BatchExecuteStatement the
Lambdas send is recorded. The recorded SQL is then replayed on one psycopg connection to a
copy of the freshly set-up database on the same PostgreSQL (`CREATE DATABASE ... TEMPLATE`),
through the same Redshift layer (COPY reads the same local S3), one request after another.

Run alone: `.venv/bin/python -m bench.end_to_end`.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

from bench.project import REPO
from rsetl.awsproto import AwsRequest, AwsResponse
from rsetl.cli.demo import DEMO_START
from rsetl.clock import VirtualClock
from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_data import RedshiftDataService
from rsetl.redshift_sql import RedshiftSqlError, RedshiftSqlRunner, parse_script
from rsetl.runtime import LocalRuntime, RuntimeOptions

SAMPLE_DIR = REPO / "sample_data"
DIRECT_DATABASE = "bench_direct"
TARGET_RATIO = 1.5
SUBMITS = ("ExecuteStatement", "BatchExecuteStatement")
QUIET_POLL_SECONDS = 0.005
WARM_WORKERS = 10
"""Workers started per function before timing: the demo lands nine sales files at once."""


@dataclass
class SqlRequest:
    """One statement or batch a Lambda submitted."""

    sqls: list[str]
    parameters: dict[str, str]
    transaction: bool
    phase: str


@dataclass
class EndToEnd:
    """Real seconds of the chain through the runtime and of the same SQL through psycopg."""

    phases: dict[str, float] = field(default_factory=dict)
    psycopg_phases: dict[str, float] = field(default_factory=dict)
    runtime_seconds: float = 0.0
    psycopg_seconds: float = 0.0
    requests: int = 0
    executions: int = 0
    failed_executions: int = 0
    replay_errors: int = 0

    @property
    def ratio(self) -> float:
        return self.runtime_seconds / self.psycopg_seconds

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "target_ratio": TARGET_RATIO}


class SqlRecorder:
    """Records the SQL submitted to the local Data API (a retried ClientToken once)."""

    def __init__(self, service: RedshiftDataService) -> None:
        self._handle = service.handle
        self._tokens: set[str] = set()
        self.requests: list[SqlRequest] = []
        self.phase = ""

    def __call__(self, request: AwsRequest, context: Any) -> AwsResponse:
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        if operation in SUBMITS:
            body = json.loads(request.body or b"{}")
            token = body.get("ClientToken")
            if token is None or token not in self._tokens:
                self._tokens.add(token)
                self.requests.append(
                    SqlRequest(
                        sqls=list(body["Sqls"]) if "Sqls" in body else [body["Sql"]],
                        parameters={p["name"]: p["value"] for p in body.get("Parameters") or []},
                        transaction=operation == "ExecuteStatement"
                        or body.get("ExecutionMode", "TRANSACTION") == "TRANSACTION",
                        phase=self.phase,
                    )
                )
        return self._handle(request, context)


def referenced(sql: str, parameters: dict[str, str]) -> dict[str, str]:
    """The parameters `sql` refers to as `:name` (a batch's statements share one list)."""
    names = parse_script(sql).parameters
    return {name: value for name, value in parameters.items() if name in names}


def _until_quiet(runtime: LocalRuntime, action: Callable[[], None], timeout: float = 600.0) -> float:
    """Real seconds from the start of `action` to the moment nothing is under way any more."""
    started = time.perf_counter()
    action()
    deadline = started + timeout
    quiet_since: float | None = None
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if runtime.busy():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 4 * QUIET_POLL_SECONDS:
            return quiet_since - started
        time.sleep(QUIET_POLL_SECONDS)
    raise TimeoutError(f"the runtime did not settle within {timeout:.0f} s")


def _landing_bucket(runtime: LocalRuntime) -> str:
    for bucket in runtime.template.of_type("AWS::S3::Bucket"):
        config = bucket.properties.get("NotificationConfiguration") or {}
        if (config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            return bucket.ref
    raise RuntimeError("the template declares no bucket with EventBridge notifications")


def _run_chain(runtime: LocalRuntime, result: EndToEnd, recorder: SqlRecorder) -> list[str]:
    """Run the chain, timing each phase; the keys uploaded."""
    manifest = json.loads((SAMPLE_DIR / "manifest.json").read_text())
    s3 = runtime.client("s3")
    bucket = _landing_bucket(runtime)
    reference = [manifest["reference"]["stores"]["key"], manifest["reference"]["products"]["key"]]
    sales = [entry["key"] for entry in manifest["sales"]["files"]] + [manifest["bad_file"]["key"]]

    def upload(keys: list[str]) -> Callable[[], None]:
        def put() -> None:
            for key in keys:
                s3.upload_file(str(SAMPLE_DIR / key), bucket, key)

        return put

    def nightly() -> None:
        next_fire = runtime.scheduler.next_fire_time()
        if next_fire is None:
            raise RuntimeError("the template declares no schedule")
        runtime.scheduler.run_until(next_fire + timedelta(seconds=1))

    for title, action in (
        ("reference uploads", upload(reference)),
        ("sales uploads", upload(sales)),
        ("nightly schedule", nightly),
    ):
        recorder.phase = title
        result.phases[title] = _until_quiet(runtime, action)
    return reference + sales


def _replay(
    runtime: LocalRuntime, requests: list[SqlRequest], uploads: list[str]
) -> tuple[dict[str, float], int]:
    """Seconds per phase to run `requests` one after another on the copy of the database; errors seen.

    COPY reads the sample files from an object store of its own, as they were uploaded (the
    runtime has since quarantined the bad one).
    """
    assert runtime.postgres is not None
    store = MemoryObjectStore()
    bucket = _landing_bucket(runtime)
    store.create_bucket(bucket)
    for key in uploads:
        store.put_object(bucket, key, (SAMPLE_DIR / key).read_bytes())
    runner = RedshiftSqlRunner(store)
    errors = 0
    seconds: dict[str, float] = {}
    conninfo = runtime.postgres.conninfo(DIRECT_DATABASE)
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        for request in requests:
            started = time.perf_counter()
            try:
                if request.transaction:
                    with conn.transaction():
                        for sql in request.sqls:
                            runner.run(conn, sql, referenced(sql, request.parameters))
                else:
                    for sql in request.sqls:
                        runner.run(conn, sql, referenced(sql, request.parameters))
            except (psycopg.Error, RedshiftSqlError):
                errors += 1
            conn.execute("DISCARD ALL")
            seconds[request.phase] = seconds.get(request.phase, 0.0) + time.perf_counter() - started
    return seconds, errors


def _warm_up(runtime: LocalRuntime) -> None:
    """Start `WARM_WORKERS` workers of every function, invoked at once (an empty event fails in the
    handler, after the imports), so the chain's parallel ingests find warm workers."""
    lambdas = runtime.lambdas
    assert lambdas is not None
    arns = [f.arn for f in runtime.template.of_type("AWS::Lambda::Function")] * WARM_WORKERS
    with ThreadPoolExecutor(max_workers=len(arns)) as pool:
        list(pool.map(lambda arn: lambdas.invoke(arn, {}), arns))


def measure(warm: bool = True) -> EndToEnd:
    """The demo chain through the runtime, then its SQL through psycopg, on one PostgreSQL.

    `warm`: start the Lambda workers before timing starts (as a busy deployment's are).
    """
    result = EndToEnd()
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-e2e-") as work:
        runtime = LocalRuntime(
            RuntimeOptions(project_dir=REPO, state_dir=Path(work), clock=VirtualClock(DEMO_START))
        )
        runtime.start()
        try:
            assert runtime.postgres is not None and runtime.redshift_data is not None
            with runtime.postgres.connect("postgres") as admin:
                admin.execute(f"CREATE DATABASE {DIRECT_DATABASE} TEMPLATE dev")
            if warm:
                _warm_up(runtime)
            recorder = SqlRecorder(runtime.redshift_data)
            with mock.patch.object(runtime.redshift_data, "handle", recorder):
                uploads = _run_chain(runtime, result, recorder)
            executions = list(runtime.stepfunctions.executions.values())
            result.executions = len(executions)
            result.failed_executions = sum(e.status != "SUCCEEDED" for e in executions)
            result.runtime_seconds = sum(result.phases.values())
            result.requests = len(recorder.requests)
            result.psycopg_phases, result.replay_errors = _replay(runtime, recorder.requests, uploads)
            result.psycopg_seconds = sum(result.psycopg_phases.values())
        finally:
            runtime.stop()
    return result


def main() -> None:
    result = measure()
    print(json.dumps(result.to_json(), indent=2))


if __name__ == "__main__":
    main()
