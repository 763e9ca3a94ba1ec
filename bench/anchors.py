"""The other benchmarks' figures (bench/data_api_overhead.py, bench/copy_throughput.py,
bench/server_latency.py), run in this process.

They print their figures; their output is captured whole and the headline figures are read
from it, so the summary quotes exactly what they measured.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import copy_throughput, data_api_overhead, server_latency

_VERDICT = re.compile(r"^(?P<claim>.+?):\s*(?P<verdict>holds|MISSED)\s*$")
_COPY_RATIO = re.compile(
    r"lowest ratio (?P<ratio>[0-9.]+) (?P<verdict>meets|misses) the target of (?P<target>[0-9.]+)"
)


@dataclass
class AnchorResult:
    """A benchmark's printed output and the verdicts read from it."""

    name: str
    output: str
    verdicts: list[tuple[str, bool]] = field(default_factory=list)
    ratio: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "output": self.output, "verdicts": self.verdicts, "ratio": self.ratio}


def _captured(main: Callable[[], None], argv: list[str]) -> str:
    buffer = io.StringIO()
    saved = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(buffer):
            main()
    finally:
        sys.argv = saved
    return buffer.getvalue()


def parse_overhead(output: str) -> list[tuple[str, bool]]:
    """The `<claim>: holds|MISSED` lines of data_api_overhead's output."""
    found = (_VERDICT.match(line.strip()) for line in output.splitlines())
    return [(m["claim"], m["verdict"] == "holds") for m in found if m]


def parse_copy(output: str) -> tuple[float, bool] | None:
    """The lowest COPY ratio of copy_throughput's output and whether it meets its target."""
    match = _COPY_RATIO.search(output)
    return None if match is None else (float(match["ratio"]), match["verdict"] == "meets")


def data_api() -> AnchorResult:
    """bench/data_api_overhead.py's measurement."""
    output = _captured(data_api_overhead.main, ["data_api_overhead"])
    return AnchorResult("Data API overhead", output, parse_overhead(output))


def copy(rows: int = 200_000, repeat: int = 3) -> AnchorResult:
    """bench/copy_throughput.py's measurement."""
    argv = ["copy_throughput", "--rows", str(rows), "--repeat", str(repeat)]
    output = _captured(copy_throughput.main, argv)
    result = AnchorResult("COPY throughput", output)
    parsed = parse_copy(output)
    if parsed is not None:
        result.ratio = parsed[0]
        result.verdicts = [(f"COPY rows/s >= {copy_throughput.TARGET_RATIO} x psycopg", parsed[1])]
    return result


def server() -> AnchorResult:
    """bench/server_latency.py's measurement (uvicorn against the former http.server front)."""
    output = _captured(server_latency.main, ["server_latency"])
    return AnchorResult("HTTP server latency", output, parse_overhead(output))
