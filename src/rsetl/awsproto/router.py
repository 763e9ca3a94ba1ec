"""Routes each request on the one local port to the service it is for, after checking its signature."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.loaders
from botocore.exceptions import DataNotFoundError

from rsetl.awsproto import aws_chunked
from rsetl.awsproto.errors import AwsError, DropConnection, wire_error
from rsetl.awsproto.messages import Authorizer, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.models import modelled_services
from rsetl.awsproto.sigv4 import PendingSignature, SignedIdentity, SigV4Verifier, credential_scope_service
from rsetl.errors import ServiceError

logger = logging.getLogger(__name__)

LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_REGION = "us-east-1"
DEFAULT_MAX_BODY = 6 * 1024 * 1024
"""Largest request body of a service that names no `max_request_body` of its own."""
MAX_PAGE_BODY = 64 * 1024
"""Largest request body read for a mounted page."""


class Service(Protocol):
    """A local AWS service behind the router."""

    @property
    def signing_name(self) -> str:
        """SigV4 service name in the credential scope (e.g. `redshift-data`, `s3`)."""
        ...

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse: ...

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse: ...


class AnswersAtOnce(Protocol):
    """A service that can tell a request it answers from memory, without waiting on a database, a
    disk write, a sleep or another request (an optional method of a :class:`Service`)."""

    def answers_at_once(self, request: AwsRequest) -> bool: ...


@dataclass(frozen=True)
class CallerIdentity:
    """Who a verified access key stands for, as the router puts it in the RequestContext."""

    principal: str
    """The caller's `aws:userid`."""
    role_name: str | None
    authorizer: Authorizer | None


IdentityLookup = Callable[[str], CallerIdentity | None]
"""Access key -> the caller it belongs to (None: a key without an IAM identity)."""
PageHandler = Callable[[AwsRequest], AwsResponse]
"""Answers a request for one of the runtime's own pages."""


class Router:
    """Picks the service by `X-Amz-Target` prefix, then by the signature's service; verifies SigV4.

    The fallback (S3) answers only requests signed for it and unsigned or presigned ones that
    name no other service; a request for a service that is not emulated gets an error saying so.
    """

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
        self._pages: dict[str, PageHandler] = {}

    def mount(self, prefix: str, handler: PageHandler) -> None:
        """Answer every request whose path starts with `prefix` by `handler`, unsigned: a page of the
        runtime's own (no AWS API), which no S3 path can be when `prefix` begins `/_`."""
        self._pages[prefix] = handler

    def register(self, service: Service, *, fallback: bool = False) -> None:
        """Add a service; `fallback` makes it answer unsigned and presigned requests too (S3)."""
        prefix = getattr(service, "target_prefix", None)
        if prefix:
            self._by_target[prefix] = service
        self._by_signing_name[service.signing_name] = service
        if fallback:
            self._fallback = service

    @property
    def aws_services(self) -> frozenset[str]:
        """The botocore names of the registered AWS services (the runtime's own, with no botocore
        model, aside): a JSON service's `service_name`, another's signing name."""
        names = {
            getattr(service, "service_name", service.signing_name)
            for service in self._by_signing_name.values()
        }
        return frozenset(names & modelled_services())

    def dispatch(self, request: AwsRequest) -> AwsResponse:
        """Answer one request whose body is read; raises only :class:`DropConnection`."""
        admitted = self.admit(request)
        return admitted if isinstance(admitted, AwsResponse) else admitted.complete(request)

    def admit(self, head: AwsRequest) -> Admission | AwsResponse:
        """Route a request by its head and check all of its signature that the head proves, before its
        body is read: an :class:`Admission` to read the body for, or the refusal to answer at once."""
        for prefix, handler in self._pages.items():
            if head.raw_path.startswith(prefix):
                return PageAdmission(handler)
        request_id = str(uuid.uuid4())
        service = self._route(head)
        anonymous = RequestContext(request_id, "", self.account_id, self.default_region)
        if service is None:
            return self._not_emulated(head, request_id)
        try:
            pending = self.verifier.verify_head(head, service.signing_name, self.default_region)
        except AwsError as error:
            return service.error_response(error, anonymous)
        return Admission(self, service, pending, anonymous, head)

    def _context(self, identity: SignedIdentity, request_id: str) -> RequestContext:
        caller = self.identities(identity.access_key) if self.identities is not None else None
        if caller is None:
            return RequestContext(request_id, identity.access_key, self.account_id, identity.region)
        return RequestContext(
            request_id,
            caller.principal,
            self.account_id,
            identity.region,
            role_name=caller.role_name,
            authorizer=caller.authorizer,
        )

    def _route(self, request: AwsRequest) -> Service | None:
        target = request.header("X-Amz-Target")
        if target:
            prefix = target.rpartition(".")[0]
            if prefix in self._by_target:
                return self._by_target[prefix]
        signed_for = _signed_service(request)
        if signed_for is not None:
            return self._by_signing_name.get(signed_for)
        # Unsigned: only an S3-shaped request (no JSON target) is S3's to answer (or refuse).
        return None if target else self._fallback

    def _not_emulated(self, request: AwsRequest, request_id: str) -> AwsResponse:
        """An error naming the service the request is for, in the form its protocol's clients parse."""
        target = request.header("X-Amz-Target")
        service = _signed_service(request) or target.rpartition(".")[0] or "(unknown)"
        served = ", ".join(sorted(self._by_signing_name))
        message = f"The local runtime does not emulate the service '{service}' (it serves {served})."
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "UnknownOperationException"}
        protocol = "json" if target else _protocol(request, service)
        if protocol in ("json", "rest-json"):
            body = json.dumps({"__type": "UnknownOperationException", "message": message}).encode()
            return AwsResponse(400, body, {**headers, "Content-Type": "application/x-amz-json-1.1"})
        code = "InvalidAction" if protocol == "query" else "UnknownOperationException"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return AwsResponse(400, body, {**headers, "Content-Type": "text/xml"})


class Admission:
    """A request the router accepted by its head: read at most :attr:`max_body` bytes, then
    :meth:`complete` it (or :meth:`refuse` it, when the body cannot be read)."""

    def __init__(
        self,
        router: Router,
        service: Service,
        pending: PendingSignature,
        anonymous: RequestContext,
        head: AwsRequest,
    ) -> None:
        self._router = router
        self._service = service
        self._pending = pending
        self._anonymous = anonymous
        self._decoded_length = _decoded_length(head)

    @property
    def max_body(self) -> int:
        """The largest body the service takes (S3 objects are the large ones)."""
        return int(getattr(self._service, "max_request_body", DEFAULT_MAX_BODY))

    def proposed_size(self, content_length: int | None) -> int | None:
        """What the body holds for the service: an aws-chunked upload's object size (its
        x-amz-decoded-content-length, not its framed length), else the Content-Length."""
        return self._decoded_length if self._decoded_length is not None else content_length

    @property
    def max_read(self) -> int:
        """The most bytes read for the body: an aws-chunked upload's framing is read beyond its object."""
        if self._decoded_length is None:
            return self.max_body
        return aws_chunked.max_framed_length(self._decoded_length)

    def body_too_large(self, size: int) -> AwsResponse:
        """The service's refusal of a body over :attr:`max_body`, answered without reading it."""
        if self._service.signing_name == "s3":
            error = AwsError(
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.",
                400,
                details={"ProposedSize": str(size), "MaxSizeAllowed": str(self.max_body)},
            )
        else:
            error = AwsError("SerializationException", f"Request body exceeds {self.max_body} bytes.", 413)
        return self.refuse(error)

    def refuse(self, error: AwsError) -> AwsResponse:
        return self._service.error_response(error, self._anonymous)

    def answers_at_once(self, request: AwsRequest) -> bool:
        """Whether the service answers `request` from memory without waiting (see :class:`AnswersAtOnce`);
        False when it cannot tell, so only what is known not to block is answered on the event loop."""
        hint = getattr(self._service, "answers_at_once", None)
        if hint is None:
            return False
        try:
            return bool(hint(request))
        except Exception:
            return False

    def complete(self, request: AwsRequest) -> AwsResponse:
        """Check the body against the signature, then let the service answer; raises only
        :class:`DropConnection`."""
        try:
            request = self._pending.complete(request)
        except AwsError as error:
            return self.refuse(error)
        context = self._router._context(self._pending.identity, self._anonymous.request_id)
        service = self._service
        try:
            return service.handle(request, context)
        except ServiceError as error:
            return service.error_response(wire_error(error), context)
        except DropConnection:
            raise
        except Exception:
            logger.exception("unhandled error in %s", service.signing_name)
            return service.error_response(
                AwsError("InternalServerException", "The local service failed; see its log.", 500), context
            )


class PageAdmission(Admission):
    """A request for a mounted page: no signature to check; a small body is read and left to the
    page to refuse (a read-only page answers 405 to anything but GET and HEAD)."""

    def __init__(self, handler: PageHandler) -> None:
        self._handler = handler
        self._decoded_length = None

    def answers_at_once(self, request: AwsRequest) -> bool:
        """A page reads the services' state under their locks: it is answered in the pool."""
        return False

    @property
    def max_body(self) -> int:
        return MAX_PAGE_BODY

    def body_too_large(self, size: int) -> AwsResponse:
        return self.refuse(AwsError("RequestEntityTooLarge", "The page takes no request body.", 413))

    def refuse(self, error: AwsError) -> AwsResponse:
        return AwsResponse(
            error.status, error.message.encode(), {"Content-Type": "text/plain; charset=utf-8"}
        )

    def complete(self, request: AwsRequest) -> AwsResponse:
        try:
            return self._handler(request)
        except Exception:
            logger.exception("unhandled error in the page %s", request.path)
            return self.refuse(AwsError("InternalError", "The page failed; see the runtime's log.", 500))


def _decoded_length(head: AwsRequest) -> int | None:
    """An aws-chunked upload's x-amz-decoded-content-length (admitted heads carry a decimal one)."""
    if head.header("x-amz-content-sha256") not in aws_chunked.FORMS:
        return None
    declared = head.header("x-amz-decoded-content-length")
    return int(declared) if declared.isascii() and declared.isdigit() else None


def _signed_service(request: AwsRequest) -> str | None:
    """The service a request is signed for: by its Authorization header or, presigned, its query."""
    scope_service = credential_scope_service(request)
    if scope_service is not None:
        return scope_service
    credential = parse_qs(request.raw_query).get("X-Amz-Credential", [""])[0].split("/")
    return credential[3] if len(credential) == 5 else None


def _protocol(request: AwsRequest, service: str) -> str:
    """The wire protocol of `service` (botocore's model of that name), or query for an `Action` form."""
    if "Action" in parse_qs(request.raw_query) or request.body.startswith(b"Action="):
        return "query"
    return _model_protocol(service)


@functools.cache
def _model_protocol(service: str) -> str:
    try:
        model = botocore.loaders.create_loader().load_service_model(service, "service-2")
    except DataNotFoundError:
        return "rest-xml"
    return str(model["metadata"]["protocol"])
