"""What the runtime needs to know about one function (built from template.yaml by the loader)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LayerConfig:
    """One layer as `sam build` packages it.

    Without `build_method` the layer is `content_dir` as it is. With one (the layer's
    `Metadata: BuildMethod`, e.g. `python3.11`), `sam build` copies `content_dir` into `python/` of
    the layer and installs `content_dir/requirements.txt` there too.
    """

    content_dir: Path
    build_method: str | None = None
    name: str | None = None
    """The layer's logical id, for messages."""


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function: its code, handler, layers, environment and limits.

    `handler` is `module.function` relative to `code_dir` (`app.lambda_handler`,
    `pkg/mod.handler`); `code_dir/requirements.txt`, if there, is installed beside the code as
    `sam build` does; `layers` are in the template's order; `runtime` is the template's `Runtime`.
    """

    name: str
    arn: str
    code_dir: Path
    handler: str = "app.lambda_handler"
    layers: tuple[LayerConfig, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    runtime: str | None = None
