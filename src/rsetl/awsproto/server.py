"""The HTTP server of the local endpoint: uvicorn with httptools (llhttp) on 127.0.0.1.

What uvicorn and llhttp enforce, as read in their source (uvicorn 0.54,
`protocols/http/httptools_impl.py`; httptools 0.9):

- llhttp answers 400 to a non-numeric or negative Content-Length, two Content-Lengths, or
  Content-Length beside Transfer-Encoding, and decodes chunked Transfer-Encoding itself;
- `limit_concurrency`: a request that arrives while that many connections (or tasks) exist is
  answered 503 and its connection closed;
- `backlog` is passed to listen(); `timeout_keep_alive` closes a connection idle after a response.

Added here: in a subclass of uvicorn's protocol (:mod:`rsetl.awsproto.http_protocol`), a header
timeout, a cap on the request line and headers, TCP_NODELAY and one write per response; in the ASGI
app below, a body idle timeout and the services' body limits, refused before the body is read (a body
up to MAX_DISCARD is then read and dropped before the answer, so a client still sending it reads the
refusal rather than a connection reset); refusals counted by kind and logged at debug, not a warning
(or traceback) per bad client.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import Message
from typing import Any

import uvicorn

from rsetl.awsproto.errors import AwsError, DropConnection
from rsetl.awsproto.http_protocol import TRANSPORT, HardenedProtocol, whole_responses
from rsetl.awsproto.messages import AwsRequest, AwsResponse
from rsetl.awsproto.router import Admission, Router

logger = logging.getLogger(__name__)
# uvicorn's start and stop lines are noise in the runtime's console; its warnings and errors stay.
logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

LOOPBACK = "127.0.0.1"
MAX_DISCARD = 64 * 1024 * 1024
"""Largest body read and dropped to answer a request refused by its head; a larger one is not read."""
_REQUEST_TIMEOUT = (
    "Your socket connection to the server was not read from or written to within the timeout period. "
    "Idle connections will be closed."
)


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold of the local endpoint."""

    max_connections: int = 1024
    """Open connections served at once; a request beyond them is answered 503 (and sheds its connection)."""
    backlog: int = 2048
    """listen() backlog: connections the kernel queues before the server accepts them (capped by
    net.core.somaxconn); 200 clients connecting at once must not see SYN retries."""
    header_timeout: float = 20.0
    """Seconds from a connection's opening (or a request's first byte) to the end of its headers."""
    body_timeout: float = 20.0
    """Seconds the body may stall between two reads; then S3's `RequestTimeout`."""
    keep_alive_timeout: float = 60.0
    """Seconds an idle keep-alive connection stays open (as a load balancer's default idle timeout)."""
    max_header_bytes: int = 16 * 1024
    """Request line plus headers."""
    stop_grace: float = 1.0
    """Seconds :meth:`LocalServer.stop` lets in-flight requests finish before cancelling them."""


class PortUnavailable(Exception):
    """The local endpoint's port cannot be listened on (another process holds it, or no permission)."""


def ensure_port_free(port: int) -> None:
    """Raise :class:`PortUnavailable` unless 127.0.0.1:`port` can be listened on now (0 always can).

    Binding as the server does (SO_REUSEADDR) tells a listening socket from one in TIME_WAIT.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError as error:
            raise PortUnavailable(
                f"cannot listen on {LOOPBACK}:{port}: {error.strerror}; "
                "stop what holds it or pass another --port"
            ) from None


def _listen(port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _AsgiApp:
    """Turns each HTTP request into an :class:`AwsRequest` for the router, read only once admitted."""

    def __init__(
        self, router: Router, executor: ThreadPoolExecutor, limits: ServerLimits, refusals: Counter[str]
    ) -> None:
        self._router = router
        self._executor = executor
        self._limits = limits
        self._refusals = refusals

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        send = whole_responses(send, scope["extensions"][TRANSPORT]["transport"])
        headers = Message()
        for name, value in scope["headers"]:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        head = AwsRequest(
            scope["method"],
            scope["raw_path"].decode("latin-1"),
            scope["query_string"].decode("latin-1"),
            headers,
            b"",
        )
        # Routing and the signature over the head are a few microseconds: no thread hop for them.
        admitted = self._router.admit(head)
        declared = headers.get("Content-Length")
        has_body = "Transfer-Encoding" in headers or (declared is not None and declared != "0")
        if isinstance(admitted, AwsResponse):
            if has_body:
                self._refusals["refused by its head (signature, routing) before its body was read"] += 1
            await self._refuse_unread(receive, send, headers, has_body, admitted, head.method)
            return
        proposed = admitted.proposed_size(None if declared is None else int(declared))
        if proposed is not None and proposed > admitted.max_body:
            self._refusals["body over the limit"] += 1
            refusal = admitted.body_too_large(proposed)
            await self._refuse_unread(receive, send, headers, has_body, refusal, head.method)
            return
        body = await self._read_body(receive, send, admitted, head.method) if has_body else b""
        if body is None:
            return
        request = replace(head, body=body)
        try:
            if admitted.answers_at_once(request):
                # From memory: on the loop, without the two thread wake-ups of the pool (~250 us loaded).
                response = admitted.complete(request)
            else:
                loop = asyncio.get_running_loop()
                response = await loop.run_in_executor(self._executor, admitted.complete, request)
        except DropConnection:
            await _hang_up(scope, receive)
            return
        await _respond(send, response, head.method, close=False)

    async def _refuse_unread(
        self, receive: Any, send: Any, headers: Message, has_body: bool, refusal: AwsResponse, method: str
    ) -> None:
        """Answer a request refused before its body was read.

        A client that sends its body without waiting (no `Expect: 100-continue`) reads nothing until
        it has sent it, and a connection closed under it is reset: so a body up to MAX_DISCARD is read
        and dropped first, never held; a larger one, or one the client waits to send, is not read and
        the connection is closed after the answer.
        """
        declared = headers.get("Content-Length")
        waits = headers.get("Expect", "").lower() == "100-continue"
        discard = has_body and not waits and (declared is None or int(declared) <= MAX_DISCARD)
        if discard and not await self._discard_body(receive):
            return
        await _respond(send, refusal, method, close=has_body and not discard)

    async def _discard_body(self, receive: Any) -> bool:
        """Read the body and drop it, within the body timeout per read; False once the client is gone."""
        dropped = 0
        while True:
            try:
                async with asyncio.timeout(self._limits.body_timeout):
                    message = await receive()
            except TimeoutError:
                return True
            if message["type"] == "http.disconnect":
                return False
            dropped += len(message.get("body", b""))
            if not message.get("more_body", False) or dropped > MAX_DISCARD:
                return True

    async def _read_body(self, receive: Any, send: Any, admitted: Admission, method: str) -> bytes | None:
        """The body, or None once the request is answered or gone (stalled, too large, disconnected)."""
        body = bytearray()
        while True:
            try:
                async with asyncio.timeout(self._limits.body_timeout):
                    message = await receive()
            except TimeoutError:
                self._refusals["body timeout"] += 1
                refusal = admitted.refuse(AwsError("RequestTimeout", _REQUEST_TIMEOUT, 400))
                await _respond(send, refusal, method, close=True)
                return None
            if message["type"] == "http.disconnect":
                self._refusals["client disconnected mid-request"] += 1
                logger.debug("client disconnected before its request body was complete")
                return None
            body += message.get("body", b"")
            if len(body) > admitted.max_read:
                self._refusals["body over the limit"] += 1
                refusal = admitted.body_too_large(admitted.proposed_size(len(body)) or len(body))
                await _respond(send, refusal, method, close=True)
                return None
            if not message.get("more_body", False):
                return bytes(body)


async def _respond(send: Any, response: AwsResponse, method: str, *, close: bool) -> None:
    headers = [
        (name.encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers.items()
    ]
    if not any(name.lower() == "content-length" for name in response.headers):
        headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})


async def _hang_up(scope: Any, receive: Any) -> None:
    """Close the connection with no response (a fault a service injects), then wait until it is gone."""
    scope["extensions"][TRANSPORT]["transport"].close()
    while (await receive())["type"] != "http.disconnect":
        pass


class LocalServer:
    """Serves a :class:`Router` on 127.0.0.1 in a background thread with its own event loop.

    The port is bound on construction. The router is synchronous: a request its service answers
    at once (from memory, see :class:`~rsetl.awsproto.router.AnswersAtOnce`) is answered on the
    event loop; every other one, which may wait on PostgreSQL, a disk write or a Lambda worker,
    runs in a thread pool so it never stalls the loop.
    """

    def __init__(self, router: Router, port: int = 0, limits: ServerLimits | None = None) -> None:
        self.limits = limits or ServerLimits()
        self.refusals: Counter[str] = Counter()
        """Requests and connections refused, by kind (for RELIABILITY.md's figures and tests)."""
        self._socket = _listen(port, self.limits.backlog)
        self._executor = ThreadPoolExecutor(
            max_workers=self.limits.max_connections, thread_name_prefix="rsetl-request"
        )
        protocol = type(
            "LocalHttpProtocol",
            (HardenedProtocol,),
            {
                "header_timeout": self.limits.header_timeout,
                "max_header_bytes": self.limits.max_header_bytes,
                "refusals": self.refusals,
            },
        )
        config = uvicorn.Config(
            _AsgiApp(router, self._executor, self.limits, self.refusals),
            http=protocol,
            ws="none",
            lifespan="off",
            loop="asyncio",
            interface="asgi3",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            # uvicorn refuses once len(connections) >= limit, the new one counted.
            limit_concurrency=self.limits.max_connections + 1,
            backlog=self.limits.backlog,
            timeout_keep_alive=self.limits.keep_alive_timeout,  # type: ignore[arg-type]
            timeout_graceful_shutdown=self.limits.stop_grace,  # type: ignore[arg-type]
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="rsetl-http", daemon=True)
        self.port: int = self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let in-flight requests end (within `stop_grace`); the port is closed on return."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=self.limits.stop_grace + 5)
        self._socket.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
