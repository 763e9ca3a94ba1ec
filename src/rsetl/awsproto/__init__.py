"""AWS wire protocols for the local services: requests, SigV4, JSON services, routing, the HTTP server."""

from __future__ import annotations

from rsetl.awsproto.errors import AwsError, DropConnection
from rsetl.awsproto.json_service import JsonService
from rsetl.awsproto.messages import Authorizer, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.router import CallerIdentity, IdentityLookup, Router, Service
from rsetl.awsproto.server import LocalServer, PortUnavailable, ensure_port_free
from rsetl.awsproto.sigv4 import DEFAULT_CREDENTIALS, SigV4Verifier

__all__ = [
    "DEFAULT_CREDENTIALS",
    "Authorizer",
    "AwsError",
    "AwsRequest",
    "AwsResponse",
    "CallerIdentity",
    "DropConnection",
    "IdentityLookup",
    "JsonService",
    "LocalServer",
    "PortUnavailable",
    "RequestContext",
    "Router",
    "Service",
    "SigV4Verifier",
    "ensure_port_free",
]
