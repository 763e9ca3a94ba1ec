"""The local Lambda runtime: handlers in worker processes, layers, environment, errors, timeouts."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rsetl.lambdas import FunctionConfig, FunctionNotFound, InvalidFunctionConfig, LambdaRuntime, LayerConfig

ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


@pytest.fixture
def functions(tmp_path: Path) -> list[FunctionConfig]:
    write(
        tmp_path / "layer1" / "python" / "shared_one.py",
        "VALUE = 'from layer one'\n",
    )
    write(tmp_path / "layer2" / "python" / "shared_two.py", "VALUE = 'from layer two'\n")
    write(tmp_path / "layer2" / "pipelines" / "demo.yaml", "name: demo\n")
    write(
        tmp_path / "fn_a" / "app.py",
        """
        import os, sys, time
        import shared_one, shared_two

        def lambda_handler(event, context):
            if event.get("crash"):
                os._exit(3)
            if event.get("sleep"):
                time.sleep(event["sleep"])
            if event.get("fail"):
                raise ValueError(event["fail"])
            print("a log line that must not break the protocol")
            return {
                "who": "a",
                "event": event,
                "layers": [shared_one.VALUE, shared_two.VALUE],
                "pipelines": os.environ["PIPELINES_DIR"],
                "pipeline_exists": os.path.exists(
                    os.path.join(os.environ["PIPELINES_DIR"], "pipelines", "demo.yaml")
                ),
                "endpoint": os.environ.get("AWS_ENDPOINT_URL_REDSHIFT_DATA"),
                "request_id": context.aws_request_id,
                "function_name": context.function_name,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "remaining_positive": context.get_remaining_time_in_millis() > 0,
                "pid": os.getpid(),
            }
        """,
    )
    write(
        tmp_path / "fn_b" / "app.py",
        """
        def lambda_handler(event, context):
            return "b"
        """,
    )
    write(tmp_path / "fn_broken" / "app.py", "import not_a_module_anywhere\n")
    return [
        FunctionConfig(
            name="fn-a",
            arn=ARN.format("fn-a"),
            code_dir=tmp_path / "fn_a",
            layers=(LayerConfig(tmp_path / "layer1"), LayerConfig(tmp_path / "layer2")),
            timeout_seconds=5,
            memory_mb=256,
            environment={"PIPELINES_DIR": "/opt"},
        ),
        FunctionConfig(name="fn-b", arn=ARN.format("fn-b"), code_dir=tmp_path / "fn_b"),
        FunctionConfig(name="fn-broken", arn=ARN.format("fn-broken"), code_dir=tmp_path / "fn_broken"),
    ]


@pytest.fixture
def runtime(functions: list[FunctionConfig]) -> Iterator[LambdaRuntime]:
    with LambdaRuntime(
        functions, extra_environment={"AWS_ENDPOINT_URL_REDSHIFT_DATA": "http://127.0.0.1:1"}
    ) as rt:
        yield rt


def test_handler_gets_event_context_layers_and_environment(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("fn-a", {"k": 1})
    assert result.function_error is None
    payload = result.payload
    assert payload["event"] == {"k": 1}
    assert payload["layers"] == ["from layer one", "from layer two"]
    assert payload["pipelines"] == str(runtime.work_dir / "fn-a" / "opt")
    assert payload["pipeline_exists"] is True
    assert payload["endpoint"] == "http://127.0.0.1:1"
    assert payload["request_id"] == result.request_id
    assert (payload["function_name"], payload["arn"], payload["memory"]) == ("fn-a", ARN.format("fn-a"), 256)
    assert payload["remaining_positive"] is True


def test_worker_stays_warm_and_functions_coexist(runtime: LambdaRuntime) -> None:
    first = runtime.invoke(ARN.format("fn-a"), {})
    assert runtime.invoke("fn-b", {}).payload == "b"
    second = runtime.invoke("fn-a:$LATEST", {})
    assert first.payload["pid"] == second.payload["pid"]
    assert runtime.invocations == {"fn-a": 2, "fn-b": 1}


def test_concurrent_invocations_use_more_workers(runtime: LambdaRuntime) -> None:
    pids: list[int] = []
    barrier = threading.Barrier(2)

    def call() -> None:
        barrier.wait()
        pids.append(runtime.invoke("fn-a", {"sleep": 0.5}).payload["pid"])

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 2


def test_unhandled_exception_is_reported_like_lambda(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("fn-a", {"fail": "bad input"})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "bad input"
    assert result.payload["requestId"] == result.request_id
    assert any("app.py" in line for line in result.payload["stackTrace"])
    assert runtime.invoke("fn-a", {}).function_error is None


def test_timeout_kills_the_worker_and_reports_sandbox_timedout(functions: list[FunctionConfig]) -> None:
    quick = FunctionConfig(**{**functions[0].__dict__, "timeout_seconds": 0.3})
    with LambdaRuntime([quick]) as runtime:
        result = runtime.invoke("fn-a", {"sleep": 30})
        assert result.function_error == "Unhandled"
        assert result.payload["errorType"] == "Sandbox.Timedout"
        assert result.payload["errorMessage"].endswith("Task timed out after 0.30 seconds")
        assert runtime.invoke("fn-a", {}).function_error is None


def test_process_exit_is_runtime_exit_error(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("fn-a", {"crash": True})
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result.payload["errorMessage"]


def test_import_error_is_reported_on_invoke(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("fn-broken", {})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "not_a_module_anywhere" in result.payload["errorMessage"]


def test_unknown_function_and_bad_config(runtime: LambdaRuntime, tmp_path: Path) -> None:
    with pytest.raises(FunctionNotFound, match="nope"):
        runtime.invoke("nope", {})
    with pytest.raises(InvalidFunctionConfig, match="does not exist"):
        runtime.register(FunctionConfig(name="x", arn=ARN.format("x"), code_dir=tmp_path / "missing"))


def test_function_output_goes_to_its_log_file(functions: list[FunctionConfig], tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with LambdaRuntime(functions, log_dir=logs) as rt:
        result = rt.invoke("fn-a", {"x": 1})
    assert result.function_error is None
    assert "a log line that must not break the protocol" in (logs / "fn-a.log").read_text()


def test_prewarmed_workers_serve_the_first_invocations(functions: list[FunctionConfig]) -> None:
    with LambdaRuntime(functions) as rt:
        rt.prewarm(1)
        prewarmed = {worker.process.pid for worker in rt._functions["fn-a"].idle}
        result = rt.invoke("fn-a", {})
    assert result.payload["pid"] in prewarmed


def test_concurrency_cap_makes_invocations_wait_for_a_free_worker(functions: list[FunctionConfig]) -> None:
    with LambdaRuntime(functions, max_workers_per_function=1) as rt, ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: rt.invoke("fn-a", {"sleep": 0.2}), range(3)))
    assert {r.function_error for r in results} == {None}
    assert len({r.payload["pid"] for r in results}) == 1
