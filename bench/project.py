"""A throwaway copy of the project for the benchmarks: the real artifacts plus one benchmark pipeline.

Functions, layers, state machines and sql/ are linked, not copied, so what runs is the
project's own code; `pipelines/` is copied so a `bench_wait` spec can sit beside the real ones,
and template.yaml so the reference poll loop and its role (bench/reference_poll.yaml) deploy with
the stack, as they would on AWS.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_PIPELINE = "bench_wait"
BENCH_SQL_MARKER = "rsetl_bench_wait"
BENCH_SPEC = f"""\
name: {BENCH_PIPELINE}
description: Benchmark pipeline; one statement whose duration the local Data API simulates.
steps:
  - name: wait
    timeout_seconds: 86400
    statements:
      - sql: SELECT 1 AS {BENCH_SQL_MARKER}
"""
LINKED = ("functions", "layers", "statemachines", "sql")
COPIED = ("template.yaml", "samconfig.toml")
REFERENCE_RESOURCES = Path(__file__).with_name("reference_poll.yaml")
REFERENCE_ASL = Path(__file__).with_name("reference_poll.asl.json")
REFERENCE_NAME = "rsetl-bench-reference-poll"
"""The reference machine's Name in reference_poll.yaml."""


def bench_project(target: Path) -> Path:
    """Lay the benchmark project out in `target` (emptied first) and return it."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in LINKED:
        (target / name).symlink_to(REPO / name, target_is_directory=True)
    for name in COPIED:
        shutil.copy(REPO / name, target / name)
    (target / REFERENCE_ASL.name).symlink_to(REFERENCE_ASL)
    with_reference(target / "template.yaml")
    shutil.copytree(REPO / "pipelines", target / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    (target / "pipelines" / "specs" / f"{BENCH_PIPELINE}.yaml").write_text(BENCH_SPEC)
    return target


def with_reference(template: Path) -> None:
    """Add reference_poll.yaml's resources at the top of `template`'s Resources."""
    head, marker, tail = template.read_text().partition("\nResources:\n")
    if not marker:
        raise ValueError(f"{template}: no top-level Resources section to add the reference machine to")
    resources = "".join(
        f"  {line}" if line.strip() else line for line in REFERENCE_RESOURCES.read_text().splitlines(True)
    )
    template.write_text(head + marker + resources + "\n" + tail)
