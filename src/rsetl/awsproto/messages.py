"""Requests, responses and the per-request context passed to services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol
from urllib.parse import parse_qs

from rsetl.awsproto.errors import AwsError


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


class Authorizer(Protocol):
    """Decides whether the signed caller may do one action on one resource (IAM, locally)."""

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        """None when allowed; otherwise AWS's AccessDenied message naming action and resource."""
        ...


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
    authorizer: Authorizer | None = None
    """The caller's IAM checks; None where no IAM is modelled (a service used on its own)."""

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        """None when the caller may do `action` on `resource`; else the AccessDenied message."""
        return None if self.authorizer is None else self.authorizer.denial(action, resource, keys)

    def authorize(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> None:
        """Raise a JSON service's `AccessDeniedException` unless the caller may do `action`."""
        message = self.denial(action, resource, keys)
        if message is not None:
            raise AwsError("AccessDeniedException", message, 400)
