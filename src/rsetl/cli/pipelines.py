"""`rsetl pipelines`: every pipeline with its triggers and downstream links, read from template.yaml."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from rsetl.cli.local import console
from rsetl.template.pipelines import load_pipelines


def list_pipelines(project_dir: Path) -> int:
    """Print one row per pipeline: how it starts (one line per rule) and what its success starts."""
    pipelines = load_pipelines(project_dir / "template.yaml")
    table = Table("pipeline", "started by", "rule", "downstream", title="Pipelines (template.yaml)")
    for pipeline in pipelines.values():
        triggers = pipeline.triggers
        table.add_row(
            pipeline.name,
            "\n".join(t.summary() for t in triggers) or "by hand only",
            "\n".join(t.rule for t in triggers),
            ", ".join(pipeline.downstream),
        )
    console.print(table)
    return 0
