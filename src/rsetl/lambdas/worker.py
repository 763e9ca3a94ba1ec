"""A Lambda worker process: loads one function's handler and serves invocations over a pipe.

Run as an isolated script (`python -I -S worker.py <config-json>`) so that nothing of rsetl and no
installed package is importable in the function's process: like a Lambda execution environment, it
has the function code with its packages, the layers in /opt and the standard library, in the order
of Lambda's Python runtime. The first line it writes ends the init phase (`{"init": null}` or
`{"init": <error>}`); then requests arrive as JSON lines on stdin and responses leave as JSON lines
on a private copy of the original stdout, because the function's own prints go to stderr (its logs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.function_name = config["name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = config["arn"]
        self.memory_limit_in_mb = int(config["memory_mb"])
        self.log_group_name = f"/aws/lambda/{config['name']}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack or []}


def _load_handler(config: dict[str, Any]) -> Any:
    module_path, _, function_name = config["handler"].rpartition(".")
    module_name = module_path.replace("/", ".")
    file_path = os.path.join(config["code_dir"], *module_name.split(".")) + ".py"
    if not os.path.isfile(file_path):
        file_path = os.path.join(config["code_dir"], *module_name.split("."), "__init__.py")
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None or not os.path.isfile(file_path):
        raise ImportError(f"No module named '{module_name}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


def main() -> None:
    config = json.loads(sys.argv[1])
    responses = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    opt_python = os.path.join(config["opt_dir"], "python")
    # /var/task (code and its packages), then the layers' two Python folders, then the standard library.
    sys.path[:] = [
        config["code_dir"],
        *config["package_dirs"],
        os.path.join(opt_python, "lib", version, "site-packages"),
        opt_python,
        *sys.path,
    ]
    os.chdir(config["code_dir"])
    try:
        handler = _load_handler(config)
        init_error = None
    except AttributeError as exc:
        handler, init_error = None, _error("Runtime.HandlerNotFound", str(exc))
    except SyntaxError as exc:
        module = config["handler"].rpartition(".")[0]
        handler, init_error = (
            None,
            _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module}': {exc}"),
        )
    except Exception as exc:
        handler, init_error = (
            None,
            _error(
                "Runtime.ImportModuleError",
                f"Unable to import module '{config['handler'].rpartition('.')[0]}': {exc}",
                traceback.format_exception(exc),
            ),
        )
    responses.write(json.dumps({"init": init_error}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        response: dict[str, Any] = {"requestId": request["requestId"]}
        if init_error is not None:
            response["error"] = {**init_error, "requestId": request["requestId"]}
        else:
            context = LambdaContext(config, request["requestId"], request["deadlineMs"])
            try:
                result = handler(request["payload"], context)
                response["payload"] = json.loads(json.dumps(result))
            except TypeError as exc:
                if "JSON serializable" in str(exc):
                    response["error"] = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
                else:
                    response["error"] = _unhandled(exc)
            except Exception as exc:
                response["error"] = _unhandled(exc)
            response.get("error", {}).update(requestId=request["requestId"])
            sys.stdout.flush()
            sys.stderr.flush()
        responses.write(json.dumps(response) + "\n")


def _unhandled(exc: BaseException) -> dict[str, Any]:
    stack = traceback.format_tb(exc.__traceback__)
    return _error(type(exc).__name__, str(exc), [line.rstrip("\n") for line in stack])


if __name__ == "__main__":
    main()
