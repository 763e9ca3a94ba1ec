"""What holding a large Data API result costs the server's memory.

Run: `.venv/bin/python -m bench.result_memory [--rows N] [--in-memory]`. The Data API server runs in
its own process on an embedded PostgreSQL in a temporary directory. One statement returns about
120 MB of text (N rows of an integer and 110 characters); the server's resident set size (RSS) is
read before the statement, sampled every 20 ms while it runs (the peak), and read again once the
result is held. `--in-memory` raises `Limits.result_memory_bytes` past the result, so the rows
stay in memory instead of in a file. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
from botocore.config import Config

from rsetl.awsproto.clients import LOCAL_KEYS, local_client

ROWS = 1_000_000
TARGET: dict[str, Any] = {"ClusterIdentifier": "bench", "Database": "dev"}
MB = 1024 * 1024


def _serve(state_dir: str, in_memory: bool, pipe: Connection) -> None:
    """Child process: PostgreSQL and the Data API until the parent closes the pipe."""
    from rsetl.redshift_data import Limits, serve

    options: dict[str, Any] = {"limits": Limits(result_memory_bytes=2**40)} if in_memory else {}
    endpoint = serve(Path(state_dir), **options)
    pipe.send(endpoint.url)
    with contextlib.suppress(EOFError):
        pipe.recv()
    endpoint.stop()


def measure(rows: int, in_memory: bool) -> dict[str, float]:
    """RSS of the server (MiB) before, at the peak while the statement runs, and with the result held."""
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-results-") as state_dir:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(state_dir, in_memory, child), daemon=True
        )
        server.start()
        try:
            url = parent.recv()
            client = local_client(
                "redshift-data", url, "us-east-1", *LOCAL_KEYS, Config(retries={"total_max_attempts": 1})
            )
            process = psutil.Process(server.pid)
            client.execute_statement(Sql="SELECT 1", WaitTimeSeconds=10, **TARGET)
            before = process.memory_info().rss
            peak = [before]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.02):
                    peak[0] = max(peak[0], process.memory_info().rss)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            sql = f"SELECT g AS id, repeat('x', 110) AS pad FROM generate_series(1, {rows}) g"
            statement = client.execute_statement(Sql=sql, **TARGET)["Id"]
            described = client.describe_statement(Id=statement, WaitTimeSeconds=30)
            while described["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
                described = client.describe_statement(Id=statement, WaitTimeSeconds=30)
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            held = process.memory_info().rss
            if described["Status"] != "FINISHED":
                raise RuntimeError(f"the statement ended {described['Status']}: {described.get('Error')}")
            first = client.get_statement_result(Id=statement)
            assert first["TotalNumRows"] == rows
            return {
                "result_mib": described["ResultSize"] / MB,
                "before_mib": before / MB,
                "peak_mib": max(peak[0], held) / MB,
                "held_mib": held / MB,
                "seconds": seconds,
            }
        finally:
            parent.close()
            server.join(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--in-memory", action="store_true", help="keep the result in memory, not in a file")
    args = parser.parse_args()
    figures = measure(args.rows, args.in_memory)
    where = "in memory" if args.in_memory else "spilled to a file"
    print(f"{args.rows:,} rows, result {figures['result_mib']:.0f} MiB encoded, {where}:")
    print(
        f"server RSS before {figures['before_mib']:.0f} MiB, peak {figures['peak_mib']:.0f} MiB, "
        f"held {figures['held_mib']:.0f} MiB (+{figures['held_mib'] - figures['before_mib']:.0f} MiB); "
        f"statement {figures['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
