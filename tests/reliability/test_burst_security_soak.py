"""Exactly once under a burst with duplicates and a rate limit; SigV4, sockets and secrets; a bounded soak."""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from reliability_support import (
    SECRET_ARN,
    aws_client,
    executions_for,
    function_name,
    query,
    run_pipeline_arn,
    sales_csv,
    scalar,
    settle,
    upload,
    upload_concurrently,
)

from rsetl.runtime import LocalRuntime

BURST_FILES = int(os.environ.get("RSETL_BURST_FILES", "200"))
BURST_DUPLICATES = BURST_FILES // 5
RATE = 10.0
SUBMITS = ("ExecuteStatement", "BatchExecuteStatement")


@pytest.mark.slow
def test_burst_with_duplicates_under_a_rate_limit_loads_each_file_once(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    data_api = runtime.redshift_data
    for operation in SUBMITS:
        data_api.limits.requests_per_second[operation] = RATE
    runtime.events.dispatcher.faults.duplicate(run_pipeline_arn(runtime), times=BURST_DUPLICATES)
    before = {s.id for s in data_api.statements()}
    keys = [f"sales/2026/11/07/burst-{n:04d}.csv" for n in range(BURST_FILES)]
    upload_concurrently(runtime, {key: sales_csv(f"burst-{n}", 3) for n, key in enumerate(keys)})
    settle(runtime, timeout=900)
    loaded = dict(
        (key, (n, rows))
        for key, n, rows in query(
            runtime,
            "SELECT object_key, count(*), sum(rows_loaded) FROM etl.load_ledger"
            " WHERE object_key LIKE 'sales/2026/11/07/burst-%%' AND status = 'LOADED' GROUP BY 1",
        )
    )
    assert loaded == {key: (1, 3) for key in keys}
    assert (
        scalar(
            runtime,
            "SELECT count(*) FROM sales.fact_sales WHERE source_key LIKE %s",
            "%/sales/2026/11/07/burst-%",
        )
        == 3 * BURST_FILES
    )
    runs = [run for key in keys for run in executions_for(runtime, key)]
    assert BURST_FILES < len(runs) <= BURST_FILES + BURST_DUPLICATES
    assert Counter(run.status for run in runs) == {"SUCCEEDED": len(runs)}
    new = [s for s in data_api.statements() if s.id not in before]
    ingest = [s for s in new if any("burst-" in sub.sql for sub in s.subs)]
    assert len(ingest) == len(runs), "one BatchExecuteStatement per run: retries reuse the ClientToken"
    for is_batch in (True, False):
        moments = sorted(s.created_at for s in new if s.is_batch is is_batch)
        for i, moment in enumerate(moments):
            in_window = sum(1 for later in moments[i:] if later - moment < timedelta(seconds=1))
            assert in_window <= 2 * RATE, "more submits of one operation in a second than rate + burst"


def test_sigv4_is_enforced_on_every_service(runtime: LocalRuntime) -> None:
    calls = {
        "redshift-data": lambda c: c.list_statements(),
        "events": lambda c: c.list_event_buses(),
        "stepfunctions": lambda c: c.list_state_machines(),
        "s3": lambda c: c.list_buckets(),
    }
    for service, call in calls.items():
        with pytest.raises(ClientError) as raised:
            call(aws_client(runtime, service, secret="not-the-secret"))
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, service
    unsigned = socket.create_connection(("127.0.0.1", int(runtime.url.rsplit(":", 1)[1])))
    with unsigned:
        unsigned.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RedshiftData.ListStatements\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"
        )
        assert unsigned.recv(200).split(b"\r\n", 1)[0] in (
            b"HTTP/1.1 403 Forbidden",
            b"HTTP/1.1 400 Bad Request",
        )


def test_nothing_listens_beyond_loopback(runtime: LocalRuntime) -> None:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                listening.append(fields[1])
    assert listening, "the runtime's port must show up"
    for address in listening:
        host = address.split(":")[0]
        assert host in ("0100007F", "00000000000000000000000001000000"), f"listening on {address}"
    assert runtime.postgres is not None
    assert "host=/" in runtime.postgres.conninfo("dev") or "host=%2F" in runtime.postgres.conninfo("dev")


def test_secrets_are_never_logged(runtime: LocalRuntime) -> None:
    settle(runtime)
    logs = Path(runtime.options.state_dir) / "logs"
    texts = [p.read_text(errors="replace") for p in logs.glob("*.log")]
    assert texts, "the functions wrote logs"
    assert runtime.lambdas is not None
    config = runtime.lambdas.function(function_name(runtime, "ExecuteStepFunction"))
    assert config.environment.get("REDSHIFT_SECRET_ARN") == SECRET_ARN
    for text in texts:
        assert SECRET_ARN not in text
        assert "AWS_SECRET_ACCESS_KEY" not in text and "aws_secret_access_key" not in text


SOAK_ROUNDS = int(os.environ.get("RSETL_SOAK_ROUNDS", "4"))


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _client_backends(runtime: LocalRuntime) -> int:
    return int(scalar(runtime, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"))


@pytest.mark.slow
def test_soak_memory_connections_threads_and_expiry(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    data_api = runtime.redshift_data

    def round_of(n: int) -> None:
        for i in range(10):
            upload(runtime, f"sales/2026/11/08/soak-{n}-{i}.csv", sales_csv(f"soak-{n}-{i}", 5))
        settle(runtime, timeout=600)

    round_of(0)
    rss, threads, backends = _rss_kb(), threading.active_count(), _client_backends(runtime)
    for n in range(1, SOAK_ROUNDS + 1):
        round_of(n)
    assert _rss_kb() - rss < 150 * 1024, "RSS grew by more than 150 MB"
    assert threading.active_count() <= threads + 8
    assert _client_backends(runtime) <= backends + 4
    loaded = scalar(
        runtime, "SELECT count(*) FROM etl.load_ledger WHERE object_key LIKE 'sales/2026/11/08/soak-%%'"
    )
    assert loaded == 10 * (SOAK_ROUNDS + 1)
    held = data_api.statement_count
    assert held > 0
    runtime.clock.advance(25 * 3600)  # type: ignore[attr-defined]
    assert data_api.sweep() >= held - 1
    assert data_api.statement_count < held
