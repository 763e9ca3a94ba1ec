"""uvicorn's httptools protocol, hardened for the local endpoint (:mod:`rsetl.awsproto.server`).

What neither uvicorn nor llhttp has:

- a header timeout, from a connection's opening or a request's first byte to the end of its headers
  (uvicorn arms no timer before the first response, and any byte disarms its keep-alive timer, so a
  silent or slowloris connection was held forever);
- a cap on the request line and headers (llhttp parses a 10 MB header);
- refusals counted by kind and logged at debug, not a warning (or traceback) per bad client.

Every accepted connection gets TCP_NODELAY, so keep-alive responses do not wait ~40 ms for Nagle's
algorithm and the client's delayed ACK; and a response's head and body leave in one write.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

TRANSPORT = "rsetl.transport"
"""The ASGI scope extension that carries a request's transport (for a fault that hangs up)."""


class _HeaderTooLarge(Exception):
    pass


class CoalescingTransport:
    """A connection's transport that can hold a response's writes until the response is whole.

    uvicorn writes a response's head and its body in two writes: with TCP_NODELAY, two segments
    and two reads for the client. Held, they leave in one send.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[bytes] | None = None

    def hold(self) -> None:
        self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        if held:
            self._transport.write(b"".join(held))

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._transport.write(data)
        else:
            self._held.append(data)

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HardenedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout, a header size cap and counted refusals."""

    header_timeout: float
    """Seconds from a connection's opening (or a request's first byte) to the end of its headers."""
    max_header_bytes: int
    """Request line plus headers."""
    refusals: Counter[str]
    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, which a socket made
        # with socket.socket() and accepted from is not (proto 0): without it, Nagle's algorithm and
        # the client's delayed ACK hold every response written in two parts back by ~40 ms.
        connection = transport.get_extra_info("socket")
        if connection is not None:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = CoalescingTransport(transport)  # type: ignore[arg-type,assignment]
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse("upgrade", "Protocol upgrades are not served.")
        except httptools.HttpParserError as error:
            if not self.transport.is_closing():
                kind = "bad Content-Length" if "Content-Length" in str(error) else "malformed HTTP"
                self._refuse(kind, f"Invalid HTTP request: {error}")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The transport, for a service's injected fault that hangs up without answering (_hang_up).
        self.scope["extensions"] = {TRANSPORT: {"transport": self.transport}}
        self._header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            self.refusals["over the connection cap (503)"] += 1
        super().on_headers_complete()

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self._refuse(
                "header section too large",
                "Your request header section exceeds the maximum allowed size "
                f"({self.max_header_bytes} bytes).",
            )
            raise _HeaderTooLarge

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.refusals["header timeout"] += 1
            logger.debug("%s: no complete request headers in %ss; closing", self.client, self.header_timeout)
            self.transport.close()

    def _refuse(self, kind: str, message: str) -> None:
        self.refusals[kind] += 1
        logger.debug("%s: refused (%s): %s", self.client, kind, message)
        self.send_400_response(message)


def whole_responses(send: Any, transport: CoalescingTransport) -> Any:
    """`send`, with each response's head held until its last body part: one write per response."""

    async def coalesced(message: Any) -> None:
        if message["type"] == "http.response.start":
            transport.hold()
        try:
            await send(message)
        except BaseException:
            transport.release()
            raise
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            transport.release()

    return coalesced
