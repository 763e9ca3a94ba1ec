"""The endpoint's HTTP server (uvicorn) against the former one (http.server), side by side in one run.

Run: `.venv/bin/python -m bench.server_latency`. A child process serves one router (the local Data
API on an embedded PostgreSQL in a temporary directory, and S3) through both fronts at once:
uvicorn (rsetl/awsproto/server.py) and http.server (bench/stdlib_server.py). The parent's boto3
clients alternate between the two request by request (which goes first alternates too), so warm-up
and the machine's load fall on both alike. Prints the median of each and the ratio new/old for:

- a Data API round trip: ExecuteStatement (WaitTimeSeconds) then GetStatementResult of `SELECT 1`;
- S3 PutObject and GetObject of a 1 KB object.

Then it sends a third front (uvicorn with tight limits: header and body timeouts of 0.5 s, 8
connections) a battery of bad requests over raw sockets and prints what came back, by kind, with
the server's own count of its refusals.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import socket
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from rsetl.awsproto.clients import LOCAL_KEYS, local_client

ROUNDS = 300
BUCKET = "bench"
OBJECT = b"x" * 1024
TARGET = {"ClusterIdentifier": "bench", "Database": "dev"}
PER_KIND = 10
TIGHT: dict[str, Any] = {"header_timeout": 0.5, "body_timeout": 0.5, "max_connections": 8}


def _serve(state_dir: str, pipe: Connection) -> None:
    """Child process: one router behind both fronts (and the tight one) until the parent says stop."""
    from bench.stdlib_server import StdlibServer
    from rsetl.awsproto import LocalServer, Router
    from rsetl.awsproto.server import ServerLimits
    from rsetl.redshift_data import serve
    from rsetl.s3 import S3Service

    # The tight front's 503s each log uvicorn's "Exceeded concurrency limit." warning.
    logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
    data_api = serve(Path(state_dir) / "redshift-data")
    # Durable, as `rsetl local up` serves it: a PUT is fsynced before its answer.
    s3 = S3Service(state_dir=Path(state_dir) / "s3")
    s3.create_bucket(BUCKET)
    router = Router()
    router.register(data_api.service)
    router.register(s3, fallback=True)
    new, old = LocalServer(router).start(), StdlibServer(router).start()
    tight = LocalServer(router, limits=ServerLimits(**TIGHT)).start()
    pipe.send((new.url, old.url, tight.port))
    with contextlib.suppress(EOFError):
        pipe.recv()
        pipe.send(dict(tight.refusals))
        pipe.recv()
    for server in (new, old, tight):
        server.stop()
    data_api.stop()


def _client(service: Any, url: str) -> Any:
    return local_client(service, url, "us-east-1", *LOCAL_KEYS, Config(retries={"total_max_attempts": 1}))


def _data_api(client: Any) -> Callable[[], object]:
    def run() -> object:
        submitted = client.execute_statement(Sql="SELECT 1 AS one", WaitTimeSeconds=30, **TARGET)
        return client.get_statement_result(Id=submitted["Id"])["Records"]

    return run


def _put(client: Any, key: str) -> Callable[[], object]:
    return lambda: client.put_object(Bucket=BUCKET, Key=key, Body=OBJECT)


def _get(client: Any, key: str) -> Callable[[], object]:
    return lambda: client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _side_by_side(new: Callable[[], object], old: Callable[[], object]) -> tuple[float, float]:
    """Median ms of each, interleaved: each round runs both, the first of the pair alternating."""
    new(), old()
    samples: dict[str, list[float]] = {"new": [], "old": []}
    for round_number in range(ROUNDS):
        pair = [("new", new), ("old", old)]
        for name, call in pair if round_number % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return statistics.median(samples["new"]) * 1000, statistics.median(samples["old"]) * 1000


def _signed(port: int, method: str, path: str, headers: dict[str, str], secret: str = "test") -> bytes:
    request = AWSRequest(method, f"http://127.0.0.1:{port}{path}", headers=dict(headers))

    class Unsigned(S3SigV4Auth):
        def payload(self, request: AWSRequest) -> str:
            return "UNSIGNED-PAYLOAD"

    Unsigned(Credentials("test", secret), "s3", "us-east-1").add_auth(request)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(port: int, data: bytes, then_close: bool = False) -> str:
    """What one raw request gets back: the status line's code, or `closed` with no answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        if data:
            client.sendall(data)
        if then_close:
            return "client hung up"
        first = client.recv(64)
    return first.split(b" ")[1].decode() if first.startswith(b"HTTP/") else "closed, no answer"


def _battery(port: int) -> list[tuple[str, Counter[str]]]:
    """Each kind of bad request PER_KIND times; the answers each kind got."""
    put = f"/{BUCKET}/refused"
    kinds: dict[str, Callable[[], str]] = {
        "Content-Length not a number": lambda: _answer(
            port, b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"
        ),
        "Content-Length negative": lambda: _answer(
            port, b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
        ),
        "Content-Length with Transfer-Encoding": lambda: _answer(
            port, b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        "not HTTP": lambda: _answer(port, b"\x16\x03\x01 hello\r\n\r\n"),
        "header section over 16 KiB": lambda: _answer(
            port, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        ),
        "silent connection (header timeout)": lambda: _answer(port, b""),
        "wrong signature, 100 MiB body unsent": lambda: _answer(
            port, _signed(port, "PUT", put, {"Content-Length": str(100 << 20)}, secret="wrong")
        ),
        "body over the 512 MiB limit, unsent": lambda: _answer(
            port, _signed(port, "PUT", put, {"Content-Length": str(600 << 20)})
        ),
        "body stalls (body timeout)": lambda: _answer(
            port, _signed(port, "PUT", put, {"Content-Length": "100"}) + b"x" * 10
        ),
        "client disconnects mid-body": lambda: _answer(
            port, _signed(port, "PUT", put, {"Content-Length": "100"}) + b"x" * 10, then_close=True
        ),
    }
    results = []
    for kind, attempt in kinds.items():
        results.append((kind, Counter(attempt() for _ in range(PER_KIND))))
        time.sleep(0.2)  # the server sees the last of the kind's connections close
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(TIGHT["max_connections"])]
    results.append(("over the connection cap", Counter(_answer(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                                                       for _ in range(PER_KIND))))  # fmt: skip
    for connection in held:
        connection.close()
    return results


def main() -> None:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="rsetl-bench-") as state_dir:
        server = context.Process(target=_serve, args=(state_dir, child), daemon=True)
        server.start()
        new_url, old_url, tight_port = parent.recv()
        try:
            data_api = _side_by_side(_data_api(_client("redshift-data", new_url)),
                                     _data_api(_client("redshift-data", old_url)))  # fmt: skip
            new_s3, old_s3 = _client("s3", new_url), _client("s3", old_url)
            put = _side_by_side(_put(new_s3, "new"), _put(old_s3, "old"))
            get = _side_by_side(_get(new_s3, "new"), _get(old_s3, "old"))
            battery = _battery(tight_port)
            time.sleep(1)  # the last header timeouts and disconnects are counted
            parent.send("refusals")
            refusals = parent.recv()
        finally:
            parent.send("stop")
            server.join(timeout=30)

    print(f"Local endpoint, median round trip (ms) over {ROUNDS} interleaved rounds")
    print(f"{'':44}{'uvicorn':>10}{'http.server':>13}{'new/old':>9}")
    for label, (new, old) in (
        ("Data API ExecuteStatement+GetStatementResult", data_api),
        ("S3 PutObject 1 KB", put),
        ("S3 GetObject 1 KB", get),
    ):
        print(f"{label:44}{new:10.2f}{old:13.2f}{new / old:9.2f}")
    print()
    print(f"Bad requests sent to uvicorn with tight limits ({PER_KIND} of each kind): answers")
    for kind, answers in battery:
        print(f"  {kind:40} " + ", ".join(f"{answer} x{count}" for answer, count in sorted(answers.items())))
    print("Refusals the server counted, by kind:")
    for kind, count in sorted(refusals.items()):
        print(f"  {kind:72} {count}")
    slower = [
        label for label, (new, old) in (("Data API", data_api), ("PUT", put), ("GET", get)) if new > old
    ]
    print()
    if slower:
        print(f"slower rows: {', '.join(slower)}")
    print(f"new server not slower (median) on every row: {'MISSED' if slower else 'holds'}")


if __name__ == "__main__":
    main()
