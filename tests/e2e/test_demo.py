"""`rsetl local demo` end to end, in its own process: moto's S3 is process-wide."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_the_demo_passes_every_check_against_the_sample_manifest(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo-state"
    argv = ["local", "--state-dir", str(state_dir), "demo", "--project-dir", str(PROJECT_DIR)]
    code = f"import sys; from rsetl.cli import main; sys.exit(main({argv!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    checks = done.stdout.split("Checks against sample_data/manifest.json")[1]
    assert "│ FAILED │" not in checks
    assert checks.count("│ ok │") >= 15, checks
    assert "demo succeeded" in done.stdout
    assert f"fresh state in {state_dir}" in done.stdout
    assert (state_dir / "logs").is_dir(), "the demo keeps its state (and function logs) where it was told"
    assert re.search(r"^run page: http://127\.0\.0\.1:\d+/_rsetl/$", done.stdout, re.MULTILINE), done.stdout[
        -500:
    ]


def test_the_demo_keeps_serving_its_run_page_when_asked(tmp_path: Path) -> None:
    """`--serve`: after the checks the page answers until SIGTERM, which ends the demo with its verdict."""
    argv = ["local", "--state-dir", str(tmp_path / "s"), "demo", "--project-dir", str(PROJECT_DIR), "--serve"]
    code = f"import sys; from rsetl.cli import main; sys.exit(main({argv!r}))"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        page = None
        for line in process.stdout:
            if line.startswith("run page: "):
                page = line.removeprefix("run page: ").strip()
            if line.startswith("serving the run page"):
                break
        assert page is not None
        with urllib.request.urlopen(page + "api/executions", timeout=30) as answer:
            runs = json.load(answer)["executions"]
        assert {run["pipeline"] for run in runs} >= {"ingest_sales", "refresh_sales_views"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
