"""The local runtime: the SAM application's services on one 127.0.0.1 port, wired from template.yaml."""

from __future__ import annotations

from rsetl.runtime.runtime import LocalRuntime, RuntimeOptions
from rsetl.runtime.state import DEFAULT_STATE_DIR, EndpointInfo, NoRuntimeRunning, read_endpoint

__all__ = [
    "DEFAULT_STATE_DIR",
    "EndpointInfo",
    "LocalRuntime",
    "NoRuntimeRunning",
    "RuntimeOptions",
    "read_endpoint",
]
