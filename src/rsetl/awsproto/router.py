"""Routes each request on the one local port to the service it is for, after checking its signature."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rsetl.awsproto.errors import AwsError, DropConnection
from rsetl.awsproto.messages import Authorizer, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.sigv4 import SigV4Verifier, credential_scope_service

logger = logging.getLogger(__name__)

LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_REGION = "us-east-1"


class Service(Protocol):
    """A local AWS service behind the router."""

    @property
    def signing_name(self) -> str:
        """SigV4 service name in the credential scope (e.g. `redshift-data`, `s3`)."""
        ...

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse: ...

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse: ...


@dataclass(frozen=True)
class CallerIdentity:
    """Who a verified access key stands for, as the router puts it in the RequestContext."""

    principal: str
    """The caller's `aws:userid`."""
    role_name: str | None
    authorizer: Authorizer | None


IdentityLookup = Callable[[str], CallerIdentity | None]
"""Access key -> the caller it belongs to (None: a key without an IAM identity)."""


class Router:
    """Picks the service by `X-Amz-Target` prefix, then by the signature's service; verifies SigV4."""

    def __init__(
        self,
        verifier: SigV4Verifier | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
        default_region: str = LOCAL_REGION,
        identities: IdentityLookup | None = None,
    ) -> None:
        self.verifier = verifier or SigV4Verifier()
        self.identities = identities
        self.account_id = account_id
        self.default_region = default_region
        self._by_target: dict[str, Service] = {}
        self._by_signing_name: dict[str, Service] = {}
        self._fallback: Service | None = None

    def register(self, service: Service, *, fallback: bool = False) -> None:
        """Add a service; `fallback` makes it answer requests no other service claims (S3)."""
        prefix = getattr(service, "target_prefix", None)
        if prefix:
            self._by_target[prefix] = service
        self._by_signing_name[service.signing_name] = service
        if fallback:
            self._fallback = service

    def dispatch(self, request: AwsRequest) -> AwsResponse:
        """Answer one request; raises only :class:`DropConnection`, for the server to hang up."""
        request_id = str(uuid.uuid4())
        service = self._route(request)
        anonymous = RequestContext(request_id, "", self.account_id, self.default_region)
        if service is None:
            return AwsResponse(
                400,
                b'{"__type":"UnknownOperationException","message":"No local service matches this request"}',
                {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
            )
        try:
            identity = self.verifier.verify(request)
        except AwsError as error:
            return service.error_response(error, anonymous)
        caller = self.identities(identity.access_key) if self.identities is not None else None
        context = (
            RequestContext(request_id, identity.access_key, self.account_id, identity.region)
            if caller is None
            else RequestContext(
                request_id,
                caller.principal,
                self.account_id,
                identity.region,
                role_name=caller.role_name,
                authorizer=caller.authorizer,
            )
        )
        try:
            return service.handle(request, context)
        except AwsError as error:
            return service.error_response(error, context)
        except DropConnection:
            raise
        except Exception:
            logger.exception("unhandled error in %s", service.signing_name)
            return service.error_response(
                AwsError("InternalServerException", "The local service failed; see its log.", 500), context
            )

    def _route(self, request: AwsRequest) -> Service | None:
        target = request.header("X-Amz-Target")
        if target:
            prefix = target.rpartition(".")[0]
            if prefix in self._by_target:
                return self._by_target[prefix]
        scope_service = credential_scope_service(request)
        if scope_service in self._by_signing_name:
            return self._by_signing_name[scope_service]
        return self._fallback
