"""Requests, responses and the per-request context passed to services."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs


@dataclass
class AwsRequest:
    """An HTTP request as received, before any service has looked at it."""

    method: str
    raw_path: str
    raw_query: str
    headers: Message
    body: bytes

    @property
    def path(self) -> str:
        return self.raw_path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else str(value)


@dataclass
class AwsResponse:
    """An HTTP response to write back."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """Who is calling and where: filled by the router after SigV4 verification."""

    request_id: str
    principal: str
    """Who signed: the caller's `aws:userid` (`<RoleId>:<session>` for a role session)."""
    account_id: str
    region: str
    role_name: str | None = None
    """The IAM role the caller acts as (a function's or the state machine's role); None for the
    local administrator (the `test` credentials)."""
