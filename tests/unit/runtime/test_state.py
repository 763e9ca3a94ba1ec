"""The endpoint file in the state directory, and NoRuntimeRunning when nothing serves it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rsetl.runtime import EndpointInfo, NoRuntimeRunning, read_endpoint
from rsetl.runtime.state import ENDPOINT_FILE, clear_endpoint, write_endpoint

INFO = EndpointInfo(
    url="http://127.0.0.1:4566",
    pid=os.getpid(),
    region="us-east-1",
    access_key="test",
    secret_key="test",
    stack_name="rsetl",
    state_machines={"RunPipelineStateMachine": "arn:aws:states:us-east-1:0:stateMachine:x"},
    buckets={"LandingBucket": "rsetl-landingbucket"},
)


def test_a_written_endpoint_reads_back_while_its_process_lives(tmp_path: Path) -> None:
    path = write_endpoint(tmp_path / "state", INFO)

    assert path == tmp_path / "state" / ENDPOINT_FILE
    assert read_endpoint(tmp_path / "state") == INFO


def test_no_endpoint_file_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(NoRuntimeRunning) as raised:
        read_endpoint(tmp_path)

    assert str(raised.value) == (
        f"no local runtime is running for {tmp_path}: start one with `rsetl local up --state-dir {tmp_path}`"
    )


def test_an_endpoint_whose_process_ended_is_not_running(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    pid = int(ended.stdout)
    write_endpoint(tmp_path, replace(INFO, pid=pid))

    with pytest.raises(NoRuntimeRunning, match=rf"\(pid {pid}\) has stopped: start one with `rsetl local up"):
        read_endpoint(tmp_path)


@pytest.mark.parametrize("text", ["not json", '{"url": "http://127.0.0.1:1"}', "[]"])
def test_an_unreadable_endpoint_file_is_reported_with_its_path(tmp_path: Path, text: str) -> None:
    (tmp_path / ENDPOINT_FILE).write_text(text)

    with pytest.raises(NoRuntimeRunning, match=rf"{ENDPOINT_FILE} is unreadable .*local up --state-dir"):
        read_endpoint(tmp_path)


def test_clearing_removes_the_file_and_tolerates_its_absence(tmp_path: Path) -> None:
    write_endpoint(tmp_path, INFO)

    clear_endpoint(tmp_path)
    clear_endpoint(tmp_path)

    assert not (tmp_path / ENDPOINT_FILE).exists()
    with pytest.raises(NoRuntimeRunning):
        read_endpoint(tmp_path)
