"""What the local Data API costs over talking to PostgreSQL directly.

Run: `.venv/bin/python -m bench.data_api_overhead`. The Data API server runs in its own process
(as it does for Lambdas), on an embedded PostgreSQL in a temporary directory; the same
PostgreSQL is queried directly with psycopg for the baselines. Prints, side by side:

- a one-row SELECT: Data API round trip (ExecuteStatement with WaitTimeSeconds, then
  GetStatementResult) vs psycopg on an open connection and vs psycopg connecting per query;
- a ~100 ms statement (`pg_sleep(0.1)`), the same way;
- statements per second with 8 client threads (ExecuteStatement with WaitTimeSeconds).

The calls compared run interleaved, round by round, after untimed warm-up rounds, and the load
average is printed: run one after the other, a change in the machine's load fell on one of them
only, which is why an earlier figure (3.67 ms) did not reproduce.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg
from botocore.config import Config

from rsetl.awsproto.clients import LOCAL_KEYS, local_client

TINY_SQL = "SELECT 1 AS one"
SLOW_SQL = "SELECT pg_sleep(0.1)"
TINY_ROUNDS = 300
SLOW_ROUNDS = 10
WARM_UP = 20
"""Untimed rounds first: the connections are opened and the server's code paths warm."""
THREADS = 8
THROUGHPUT_SECONDS = 4.0
AWS_EXECUTE_QUOTA = 30.0
TARGET = {"ClusterIdentifier": "bench", "Database": "dev"}


def _serve(state_dir: str, pipe: Connection) -> None:
    """Child process: PostgreSQL and the Data API until the parent closes the pipe."""
    from rsetl.redshift_data import serve

    endpoint = serve(Path(state_dir))
    pipe.send((endpoint.url, endpoint.postgres.conninfo("dev")))
    with contextlib.suppress(EOFError):
        pipe.recv()
    endpoint.stop()


def _client(url: str) -> Any:
    return local_client(
        "redshift-data", url, "us-east-1", *LOCAL_KEYS,
        Config(retries={"total_max_attempts": 1}, max_pool_connections=THREADS),
    )  # fmt: skip


def _interleaved_ms(calls: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median ms of each call over `rounds`, interleaved: each round runs every call once, the first
    of the round rotating, so the machine's load falls on all alike; WARM_UP untimed rounds first."""
    for _ in range(WARM_UP):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for round_number in range(rounds):
        first = round_number % len(calls)
        for index in [*range(first, len(calls)), *range(first)]:
            started = time.perf_counter()
            calls[index]()
            samples[index].append(time.perf_counter() - started)
    return [statistics.median(values) * 1000 for values in samples]


def _data_api(client: Any, sql: str) -> Callable[[], object]:
    def run() -> object:
        submitted = client.execute_statement(Sql=sql, WaitTimeSeconds=30, **TARGET)
        if submitted["Status"] != "FINISHED":
            raise RuntimeError(f"statement ended {submitted['Status']}")
        return client.get_statement_result(Id=submitted["Id"])["Records"]

    return run


def _psycopg_open(conn: psycopg.Connection[Any], sql: str) -> Callable[[], object]:
    return lambda: conn.execute(sql).fetchall()


def _psycopg_connect(conninfo: str, sql: str) -> Callable[[], object]:
    def run() -> object:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    return run


def _throughput(url: str) -> float:
    clients = [_client(url) for _ in range(THREADS)]
    for client in clients:
        client.execute_statement(Sql=TINY_SQL, WaitTimeSeconds=30, **TARGET)
    done = [0] * THREADS
    stop = threading.Event()

    def work(index: int) -> None:
        while not stop.is_set():
            clients[index].execute_statement(Sql=TINY_SQL, WaitTimeSeconds=30, **TARGET)
            done[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(THROUGHPUT_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def _verdict(ok: bool) -> str:
    return "holds" if ok else "MISSED"


def main() -> None:
    load_before = os.getloadavg()[0]
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-") as state_dir:
        server = context.Process(target=_serve, args=(state_dir, child), daemon=True)
        server.start()
        url, conninfo = parent.recv()
        try:
            client = _client(url)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                tiny_api, tiny_open, tiny_connect = _interleaved_ms(
                    [_data_api(client, TINY_SQL), _psycopg_open(conn, TINY_SQL),
                     _psycopg_connect(conninfo, TINY_SQL)],
                    TINY_ROUNDS,
                )  # fmt: skip
                slow_api, slow_open = _interleaved_ms(
                    [_data_api(client, SLOW_SQL), _psycopg_open(conn, SLOW_SQL)], SLOW_ROUNDS
                )
            rate = _throughput(url)
        finally:
            parent.send("stop")
            server.join(timeout=30)

    load_after = os.getloadavg()[0]
    print(f"Local Redshift Data API overhead (median round trip, ms; {TINY_ROUNDS} interleaved rounds)")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} cores")
    print(f"{'':34}{'Data API':>10}{'psycopg':>10}{'ratio':>8}")
    print(
        f"{'one-row SELECT, open connection':34}{tiny_api:10.2f}{tiny_open:10.2f}{tiny_api / tiny_open:8.1f}x"
    )
    print(
        f"{'one-row SELECT, connect per query':34}{tiny_api:10.2f}{tiny_connect:10.2f}"
        f"{tiny_api / tiny_connect:8.1f}x"
    )
    print(
        f"{'pg_sleep(0.1), open connection':34}{slow_api:10.2f}{slow_open:10.2f}{slow_api / slow_open:8.2f}x"
    )
    print(
        f"statements/s with {THREADS} client threads: {rate:.0f}"
        f" ({rate / AWS_EXECUTE_QUOTA:.1f}x the AWS quota)"
    )
    print()
    tiny_ok = tiny_api <= 4 * tiny_connect
    print(
        f"tiny statement <= 4x psycopg (connect per query, as the Data API has no client connection): "
        f"{_verdict(tiny_ok)}"
    )
    print(f"tiny statement <= 4x psycopg (open connection): {_verdict(tiny_api <= 4 * tiny_open)}")
    print(f">= 100 ms statement <= 1.1x psycopg: {_verdict(slow_api <= 1.1 * slow_open)}")
    print(f"throughput >= 10x the ExecuteStatement quota (300/s): {_verdict(rate >= 10 * AWS_EXECUTE_QUOTA)}")


if __name__ == "__main__":
    main()
