"""Workers follow Lambda's execution environment lifecycle: started on demand, shut down when idle.

"Understand the Lambda execution environment lifecycle" (AWS Lambda Developer Guide,
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): an environment is
created (Init phase, limited to 10 seconds) when an invocation finds none available, kept for some
time after an invocation in anticipation of the next one, and shut down when unused.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rsetl.lambdas import FunctionConfig, LambdaRuntime

ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"


def function(tmp_path: Path, name: str, source: str, timeout: float = 3) -> FunctionConfig:
    code = tmp_path / name
    code.mkdir(parents=True, exist_ok=True)
    (code / "app.py").write_text(textwrap.dedent(source))
    return FunctionConfig(name=name, arn=ARN.format(name), code_dir=code, timeout_seconds=timeout)


PID = """
import os

def lambda_handler(event, context):
    return os.getpid()
"""


def wait_until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_no_worker_runs_before_the_first_invocation(tmp_path: Path) -> None:
    with LambdaRuntime([function(tmp_path, "fn", PID)]) as rt:
        assert rt.worker_pids() == []
        pid = rt.invoke("fn", {}).payload
        assert rt.worker_pids() == [pid]


def test_an_idle_worker_shuts_down_and_the_next_invocation_starts_a_new_one(tmp_path: Path) -> None:
    with LambdaRuntime([function(tmp_path, "fn", PID)], idle_seconds=0.2) as rt:
        first = rt.invoke("fn", {}).payload
        assert wait_until(lambda: rt.worker_pids() == [])
        second = rt.invoke("fn", {}).payload
    assert second != first


def test_a_worker_in_use_stays_warm(tmp_path: Path) -> None:
    with LambdaRuntime([function(tmp_path, "fn", PID)], idle_seconds=None) as rt:
        pids = {rt.invoke("fn", {}).payload for _ in range(3)}
    assert len(pids) == 1


def test_the_init_phase_does_not_count_against_the_function_timeout(tmp_path: Path) -> None:
    """A cold start whose import takes longer than the function's timeout (but within Init's 10 s)
    still runs the invocation: the timeout applies to the Invoke phase."""
    slow_import = "import time\ntime.sleep(1.5)\n\ndef lambda_handler(event, context):\n    return 'ran'\n"
    with LambdaRuntime([function(tmp_path, "slow", slow_import, timeout=1)]) as rt:
        result = rt.invoke("slow", {})
    assert (result.function_error, result.payload) == (None, "ran")


def test_the_start_up_check_leaves_no_worker_running(tmp_path: Path) -> None:
    with LambdaRuntime([function(tmp_path, "fn", PID)], work_dir=tmp_path / "work") as rt:
        assert rt.startup_errors() == {}
        assert rt.worker_pids() == []


def test_an_unchanged_function_is_not_checked_again_a_changed_one_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = function(tmp_path, "fn", PID)
    work = tmp_path / "work"
    with LambdaRuntime([config], work_dir=work) as rt:
        assert rt.startup_errors() == {}
    started: list[str] = []
    start_worker = LambdaRuntime._start_worker

    def counting(self: LambdaRuntime, fn: Any) -> Any:
        started.append(fn.config.name)
        return start_worker(self, fn)

    monkeypatch.setattr(LambdaRuntime, "_start_worker", counting)
    with LambdaRuntime([config], work_dir=work) as rt:
        assert rt.startup_errors() == {}
    assert started == []
    (Path(config.code_dir) / "app.py").write_text("import not_a_module_anywhere\n")
    with LambdaRuntime([config], work_dir=work) as rt:
        errors = rt.startup_errors()
    assert started == ["fn"]
    assert errors["fn"]["errorType"] == "Runtime.ImportModuleError"


def test_a_function_checked_for_one_state_dir_is_not_checked_again_for_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The passed checks are kept in the user cache, by fingerprint: a fresh state directory's start
    does not import again a handler whose code, packages and environment passed before."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = function(tmp_path, "fn", PID)
    with LambdaRuntime([config], work_dir=tmp_path / "first") as rt:
        assert rt.startup_errors() == {}
    started: list[str] = []
    start_worker = LambdaRuntime._start_worker

    def counting(self: LambdaRuntime, fn: Any) -> Any:
        started.append(fn.config.name)
        return start_worker(self, fn)

    monkeypatch.setattr(LambdaRuntime, "_start_worker", counting)
    with LambdaRuntime([config], work_dir=tmp_path / "second") as rt:
        assert rt.startup_errors() == {}
    assert started == []


def test_a_failed_check_is_made_again(tmp_path: Path) -> None:
    config = function(tmp_path, "broken", "import not_a_module_anywhere\n")
    work = tmp_path / "work"
    for _ in range(2):
        with LambdaRuntime([config], work_dir=work) as rt:
            assert rt.startup_errors()["broken"]["errorType"] == "Runtime.ImportModuleError"
