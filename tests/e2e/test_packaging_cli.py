"""`rsetl local up` names, at start-up, a function whose handler imports what it does not package.

On AWS such a function fails every invocation with `Runtime.ImportModuleError` ("Unable to import
module 'app': No module named ..."): AWS Knowledge Center, "How do I troubleshoot 'permission denied'
or 'Unable to import module' errors when I upload a Lambda deployment package?",
https://repost.aws/knowledge-center/lambda-deployment-package-errors
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
RSETL = Path(sys.executable).with_name("rsetl")
READY = "rsetl local endpoint ready at "
PROJECT_PARTS = (
    "template.yaml", "samconfig.toml", "functions", "layers", "pipelines", "sql", "statemachines",
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project_copy(target: Path) -> Path:
    target.mkdir()
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    return target


def test_up_names_the_function_and_the_module_it_cannot_import(tmp_path: Path) -> None:
    """`rich` is installed where rsetl runs, but EmitEventFunction does not package it."""
    project = _project_copy(tmp_path / "project")
    app = project / "functions" / "emit_event" / "app.py"
    app.write_text(
        app.read_text().replace("from typing import Any\n", "from typing import Any\n\nimport rich\n", 1)
    )
    command = [str(RSETL), "local", "--state-dir", str(tmp_path / "state"), "up", "--port", str(_free_port()),
               "--project-dir", str(project)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        ready = process.stdout.readline()
        if not ready.startswith(READY):
            process.terminate()
            raise AssertionError(f"no ready line: {ready!r}\n{process.stderr.read()}")
        process.send_signal(signal.SIGTERM)
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            # SIGTERM: `up` stops PostgreSQL on its way out; SIGKILL would leave it running.
            process.terminate()
            process.wait(timeout=60)
    lines = [line for line in stderr.splitlines() if "cannot start" in line]
    assert lines == [
        "function rsetl-EmitEventFunction cannot start: Runtime.ImportModuleError: "
        "Unable to import module 'app': No module named 'rich'"
    ]
