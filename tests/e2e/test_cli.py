"""The `rsetl local` commands against a running `rsetl local up` (own process, PostgreSQL, real clock)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from rsetl.runtime import read_endpoint

PROJECT_DIR = Path(__file__).resolve().parents[2]
RSETL = Path(sys.executable).with_name("rsetl")
READY = "rsetl local endpoint ready at "
STORES_CSV = (
    "store_id,store_name,city,region,opened_on\n"
    "E2ECLI01,Cli Test Store One,Springfield,MIDWEST,2020-01-02\n"
    "E2ECLI02,Cli Test Store Two,Shelbyville,MIDWEST,2021-03-04\n"
)


@dataclass
class Up:
    """A running `rsetl local up` and what it printed so far."""

    process: subprocess.Popen[str]
    state_dir: Path
    url: str = ""
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    """Its stdout, line by line; None once it is closed."""

    def rest_of_stdout(self) -> list[str]:
        """Every line printed after the ready line, once the process has ended."""
        rest = []
        while (line := self.lines.get(timeout=60)) is not None:
            rest.append(line)
        return rest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PRINCIPALS = {"alice": "alice-secret", "bob": "bob-secret"}
"""The local principals `up` is started with (`--credentials`); the CLI signs as the first."""


def rsetl(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `rsetl local` command as a user would, with a wide terminal so tables are not cut;
    `--state-dir` after the verb, as the CLI's hints write it."""
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [str(RSETL), "local", *args[:1], "--state-dir", str(state_dir), *args[1:]],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    state_dir = tmp_path_factory.mktemp("rsetl-up")
    command = [str(RSETL), "local", "up", "--state-dir", str(state_dir), "--port", str(_free_port()),
               "--project-dir", str(PROJECT_DIR),
               "--credentials", *(f"{key}={secret}" for key, secret in PRINCIPALS.items())]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = Up(process, state_dir)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.put(line.rstrip("\n"))
        running.lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        ready = running.lines.get(timeout=180)
        assert ready is not None and ready.startswith(READY), (
            ready,
            process.stderr and process.stderr.read(),
        )
        assert ready.endswith(f"state in {state_dir}")
        running.url = ready.removeprefix(READY).split(" ", 1)[0]
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (an exited one waiting for init to reap it is not)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _wait_until_idle(up: Up) -> None:
    """Wait (bounded) until every execution the local endpoint knows has ended."""
    info = read_endpoint(up.state_dir)
    sfn = boto3.session.Session().client(
        "stepfunctions", endpoint_url=info.url, region_name=info.region,
        aws_access_key_id=info.access_key, aws_secret_access_key=info.secret_key,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        arns = list(info.state_machines.values())
        running = [e for arn in arns for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
                   ["executions"]]  # fmt: skip
        if not running:
            return
        time.sleep(0.5)
    raise AssertionError("executions still running after 180 s")


def test_the_ready_line_names_the_endpoint_and_the_state_dir(up: Up) -> None:
    assert up.url.startswith("http://127.0.0.1:")
    info = read_endpoint(up.state_dir)
    assert (info.url, info.pid) == (up.url, up.process.pid)


def test_put_start_executions_execution_events_and_sql(up: Up, tmp_path: Path) -> None:
    stores = tmp_path / "stores.csv"
    stores.write_text(STORES_CSV)
    bucket = next(iter(read_endpoint(up.state_dir).buckets.values()))
    key = "reference/stores/e2e_cli_stores.csv"

    put = rsetl(up.state_dir, "put", str(stores), f"s3://{bucket}/{key}")
    assert put.returncode == 0, put.stderr
    assert f"s3://{bucket}/{key}" in put.stdout

    started = rsetl(up.state_dir, "start", "refresh_sales_views", "--name", "cli-refresh", "--wait")
    assert started.returncode == 0, started.stdout + started.stderr
    assert ":cli-refresh" in started.stdout and "SUCCEEDED" in started.stdout
    _wait_until_idle(up)

    listed = rsetl(up.state_dir, "executions")
    assert listed.returncode == 0, listed.stderr
    assert "cli-refresh" in listed.stdout and "ingest_stores" in listed.stdout
    assert "FAILED" not in listed.stdout

    history = rsetl(up.state_dir, "execution", "cli-refresh")
    assert history.returncode == 0, history.stderr
    assert "SUCCEEDED" in history.stdout
    assert "PrepareRun" in history.stdout and "EmitPipelineSucceeded" in history.stdout

    events = rsetl(up.state_dir, "events")
    assert events.returncode == 0, events.stderr
    assert key in events.stdout and "Object Created" in events.stdout
    assert "Pipeline Succeeded" in events.stdout and "ingest_stores" in events.stdout

    query = rsetl(
        up.state_dir,
        "sql",
        "SELECT store_id, city FROM sales.dim_store WHERE store_id LIKE 'E2ECLI%' ORDER BY 1",
    )
    assert query.returncode == 0, query.stderr
    assert [line.split() for line in query.stdout.splitlines() if "E2ECLI" in line] == [
        ["│", "E2ECLI01", "│", "Springfield", "│"],
        ["│", "E2ECLI02", "│", "Shelbyville", "│"],
    ]


def test_bad_sql_and_unknown_executions_fail_with_the_error(up: Up) -> None:
    bad = rsetl(up.state_dir, "sql", "SELECT * FROM no_such_schema.no_such_table")
    assert bad.returncode == 1
    assert "FAILED" in bad.stderr and "no_such_table" in bad.stderr
    assert bad.stderr.count("\n") == 1, "a failure is one line"
    unknown = rsetl(up.state_dir, "execution", "no-such-execution")
    assert unknown.returncode == 1
    assert "ExecutionDoesNotExist" in unknown.stderr
    assert unknown.stderr.count("\n") == 1 and "Traceback" not in unknown.stderr


def _client(up: Up, service: str, access_key: str, secret_key: str) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=up.url, region_name="us-east-1",
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
    )  # fmt: skip


def test_each_configured_principal_sees_its_own_statements_only(up: Up) -> None:
    """Data API statements are visible to the IAM identity that ran them (an IAM user: that user).

    Amazon Redshift Management Guide, "Authorizing access to the Amazon Redshift Data API",
    https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html
    """
    alice = _client(up, "redshift-data", "alice", PRINCIPALS["alice"])
    bob = _client(up, "redshift-data", "bob", PRINCIPALS["bob"])

    statement_id = alice.execute_statement(Sql="SELECT 1", Database="dev", WorkgroupName="local")["Id"]

    assert statement_id in [s["Id"] for s in alice.list_statements()["Statements"]]
    assert statement_id not in [s["Id"] for s in bob.list_statements()["Statements"]]
    with pytest.raises(ClientError) as not_bobs:
        bob.describe_statement(Id=statement_id)
    assert not_bobs.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_default_test_credentials_are_refused_once_others_are_configured(up: Up) -> None:
    """A key the endpoint does not know is refused (IAM: InvalidClientTokenId; the JSON services:
    UnrecognizedClientException), as AWS refuses a key of no account.

    Common Errors, https://docs.aws.amazon.com/redshift-data/latest/APIReference/CommonErrors.html
    """
    with pytest.raises(ClientError) as refused:
        _client(up, "redshift-data", "test", "test").list_statements()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_put_to_a_missing_bucket_is_one_error_line_and_exit_1(up: Up, tmp_path: Path) -> None:
    local_file = tmp_path / "x.csv"
    local_file.write_text("a\n")

    put = rsetl(up.state_dir, "put", str(local_file), "s3://no-such-bucket-e2e/x.csv")

    assert put.returncode == 1
    assert put.stderr.count("\n") == 1 and "Traceback" not in put.stderr
    assert "NoSuchBucket" in put.stderr and put.stderr.startswith("rsetl: the local endpoint answered: ")


def test_query_results_print_as_they_are_even_with_brackets(up: Up) -> None:
    query = rsetl(up.state_dir, "sql", """SELECT '[/red]x[bold]' AS "[b]" """)

    assert query.returncode == 0, query.stderr
    assert "[/red]x[bold]" in query.stdout and "[b]" in query.stdout


def test_output_into_a_closed_pipe_ends_quietly_with_the_sigpipe_code(up: Up) -> None:
    """`rsetl local sql ... | head`: once the reader is gone the command stops with no traceback
    and exit code 141 (128 + SIGPIPE), as a command SIGPIPE ends does. The reader closes its end
    before the command writes, so the first write already meets the closed pipe."""
    env = {**os.environ, "COLUMNS": "250"}
    command = [str(RSETL), "local", "sql", "--state-dir", str(up.state_dir),
               "SELECT g AS n FROM generate_series(1, 2000) g"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=180) == 141, stderr
    assert stderr == "", "no traceback, no BrokenPipeError, no message"
    assert (up.state_dir / "redshift-data" / "results").is_dir(), "large results go to the state dir"


def test_a_second_up_on_the_same_state_dir_is_refused(up: Up) -> None:
    second = rsetl(up.state_dir, "up", "--port", "0", "--project-dir", str(PROJECT_DIR))

    assert second.returncode == 2
    assert f"another `rsetl local up` (pid {up.process.pid}) serves {up.state_dir}" in second.stderr


def test_up_stops_cleanly_on_sigterm_with_postgresql(up: Up) -> None:
    postmaster = int((up.state_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])
    assert _running(postmaster)

    up.process.send_signal(signal.SIGTERM)

    assert up.process.wait(timeout=120) == 0
    assert up.rest_of_stdout() == [], "up prints one line on stdout: the ready line"
    assert up.process.stderr is not None and "stopping" in up.process.stderr.read()
    assert not _running(postmaster), "PostgreSQL stops with the runtime"
    assert not (up.state_dir / "endpoint.json").exists()
    after = rsetl(up.state_dir, "executions")
    assert after.returncode == 2
    assert "no local runtime is running" in after.stderr and "rsetl local up" in after.stderr
