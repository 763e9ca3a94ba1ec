"""The HTTP server of the local endpoint: 127.0.0.1 only, one thread per connection."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from rsetl.awsproto.errors import DropConnection
from rsetl.awsproto.messages import AwsRequest
from rsetl.awsproto.router import Router

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY = 512 * 1024 * 1024
"""Largest request body read; larger requests are refused before reading (S3 PUTs are the big ones)."""


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle's algorithm and the
        # client's delayed ACK hold every keep-alive response back by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "Request body too large")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = AwsRequest(self.command, url.path, url.query, self.headers, body)
        try:
            response = self.server.router.dispatch(request)
        except DropConnection:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in response.headers):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, router: Router) -> None:
        self.router = router
        super().__init__((LOOPBACK, port), _Handler)


class LocalServer:
    """Serves a :class:`Router` on 127.0.0.1 in a background thread."""

    def __init__(self, router: Router, port: int = 0) -> None:
        self._server = _Server(port, router)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rsetl-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            # shutdown() waits for serve_forever() to end: it would wait forever if it never began.
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
