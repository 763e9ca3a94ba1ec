"""What the runtime needs to know about one function (built from template.yaml by the loader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function: its code, handler, layers, environment and limits.

    `handler` is `module.function` relative to `code_dir` (`app.lambda_handler`,
    `pkg/mod.handler`); `layer_dirs` are the layers' folders in the template's order.
    """

    name: str
    arn: str
    code_dir: Path
    handler: str = "app.lambda_handler"
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0
    memory_mb: int = 128
