"""`rsetl local demo` end to end, in its own process: moto's S3 is process-wide."""

from __future__ import annotations

import os
import subprocess
import sys
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
