"""The run page under `/_rsetl/` on the runtime's port: static files and the JSON views behind them.

Read-only: GET and HEAD only, nothing that changes state. It is no AWS API, so the router hands it
unsigned requests for its prefix (an S3 bucket name cannot begin with `_`, so the path is no bucket's).
"""

from __future__ import annotations

import json
import mimetypes
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from rsetl.awsproto.messages import AwsRequest, AwsResponse
from rsetl.console.views import RunSource, execution_summary, execution_view, pipelines_view

PREFIX = "/_rsetl/"
MOUNT = PREFIX.rstrip("/")
"""What the router hands to the page: the prefix, and the bare `/_rsetl` that redirects to it."""
_STATIC = resources.files("rsetl.console") / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class ConsolePages:
    """Answers `GET /_rsetl/...`: the page, its assets, and `api/...` JSON."""

    def __init__(self, source: RunSource) -> None:
        self._source = source

    def handle(self, request: AwsRequest) -> AwsResponse:
        if request.method not in ("GET", "HEAD"):
            return _text(405, "The run page is read-only.", {"Allow": "GET, HEAD"})
        if request.path == MOUNT:
            return _text(301, f"The run page is at {PREFIX}.", {"Location": PREFIX})
        if not request.path.startswith(PREFIX):
            return _text(404, f"No page {request.path}.")
        path = request.path[len(PREFIX) :]
        if path in ("", "index.html"):
            return _static("index.html")
        if path.startswith("static/"):
            return _static(path[len("static/") :])
        if path.startswith("api/"):
            return self._api(path[len("api/") :], parse_qs(request.raw_query))
        return _text(404, f"No page {request.path}.")

    def _api(self, name: str, query: dict[str, list[str]]) -> AwsResponse:
        source = self._source
        if name == "pipelines":
            return _json(pipelines_view(source))
        if name == "executions":
            now = source.now()
            runs = sorted(source.executions(), key=lambda e: e.start_date or now, reverse=True)
            return _json({"executions": [execution_summary(e, now) for e in runs]})
        if name == "execution":
            wanted = (query.get("arn") or [""])[0]
            execution = next((e for e in source.executions() if wanted in (e.arn, e.name)), None)
            if execution is None:
                return _json({"message": f"No execution {wanted!r}."}, 404)
            return _json(execution_view(source, execution))
        return _json({"message": f"No view {name!r}."}, 404)


def _static(relative: str) -> AwsResponse:
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return _text(404, "No such file.")
    resource = _STATIC.joinpath(*parts)
    if not resource.is_file():
        return _text(404, "No such file.")
    suffix = "." + relative.rpartition(".")[2]
    kind = _TYPES.get(suffix) or mimetypes.guess_type(relative)[0] or "application/octet-stream"
    return AwsResponse(200, resource.read_bytes(), {"Content-Type": kind, "Cache-Control": "no-cache"})


def _json(payload: Any, status: int = 200) -> AwsResponse:
    body = json.dumps(payload, default=str).encode()
    return AwsResponse(status, body, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> AwsResponse:
    return AwsResponse(
        status, message.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
    )
