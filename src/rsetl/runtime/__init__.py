"""The local runtime: the SAM application's services on one 127.0.0.1 port, wired from template.yaml.

`LocalRuntime` and `RuntimeOptions` are imported on first use: what the CLI does before the runtime
starts (the state dir's lock, the endpoint file) needs only `rsetl.runtime.state`, and `up` starts
PostgreSQL while the runtime's own imports run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rsetl.runtime.state import DEFAULT_STATE_DIR, EndpointInfo, NoRuntimeRunning, read_endpoint

if TYPE_CHECKING:
    from rsetl.runtime.runtime import LocalRuntime, RuntimeOptions

__all__ = [
    "DEFAULT_STATE_DIR",
    "EndpointInfo",
    "LocalRuntime",
    "NoRuntimeRunning",
    "RuntimeOptions",
    "read_endpoint",
]


def __getattr__(name: str) -> Any:
    if name in ("LocalRuntime", "RuntimeOptions"):
        return getattr(importlib.import_module("rsetl.runtime.runtime"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
