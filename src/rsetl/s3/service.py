"""The S3 REST API served by moto in-process.

Added here: EventBridge notifications to the local bus (moto would send them to its own bus),
CopyObject's source conditions (moto ignores them), and the :class:`~rsetl.objectstore.ObjectStore`
view that COPY and UNLOAD use.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from moto.s3.models import s3_backends
from moto.server import create_backend_app

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.router import LOCAL_ACCOUNT_ID
from rsetl.awsproto.wsgi import call_wsgi
from rsetl.objectstore import StoredObject
from rsetl.s3.notifications import object_event_entry
from rsetl.s3.permissions import S3Target, required_permissions
from rsetl.s3.persistence import S3Persistence

logger = logging.getLogger(__name__)

EventSink = Callable[[list[dict[str, Any]]], object]
"""Receives PutEvents-style entries (the local EventBridge's `publish`)."""


class S3Service:
    """Local S3 on the shared port: every request no other service claims lands here."""

    signing_name = "s3"

    def __init__(self, event_sink: EventSink | None = None, *, state_dir: Path | None = None) -> None:
        """`state_dir` keeps the buckets and objects (loaded from it now); None keeps them in memory."""
        # moto keeps S3 in process-wide state with one global bucket namespace: a new local S3
        # starts empty, so one process runs one local S3 at a time.
        s3_backends.reset()
        self._moto_account = LOCAL_ACCOUNT_ID
        self._app = create_backend_app("s3")
        self._event_sink = event_sink
        self._notifying: set[str] = set()
        self._lock = threading.Lock()
        self._persistence = S3Persistence(state_dir) if state_dir is not None else None

    @property
    def _backend(self) -> Any:
        backend = s3_backends[self._moto_account]["aws"]
        if self._persistence is not None:
            self._persistence.attach(backend)
        return backend

    def _written_through(self) -> AbstractContextManager[None]:
        """moto's app inside this changes the loaded backend, and each change is on disk when it ends
        (so before the answer is sent)."""
        if self._persistence is None:
            return nullcontext()
        self._backend  # noqa: B018 - loads and wraps the backend moto's app is about to use
        return self._persistence.recording()

    def set_event_sink(self, sink: EventSink) -> None:
        self._event_sink = sink

    def create_bucket(self, name: str, *, eventbridge: bool = False, region: str = "us-east-1") -> None:
        """Create a bucket (as the template declares it); `eventbridge` turns notifications on."""
        if name not in self._backend.buckets:
            self._backend.create_bucket(name, region)
        if eventbridge:
            with self._lock:
                self._notifying.add(name)

    def bucket_names(self) -> list[str]:
        return sorted(self._backend.buckets)

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        digest_error = content_md5_error(request)
        if digest_error is not None:
            return self.error_response(digest_error, context)
        for needed in required_permissions(request):
            message = context.denial(needed.action, needed.resource, needed.keys)
            if message is not None:
                return self.error_response(AwsError("AccessDenied", message, 403), context)
        if request.method == "PUT" and request.header("x-amz-copy-source"):
            self._check_copy_source_conditions(request)
        with self._written_through():
            status, headers, body = call_wsgi(self._app, request, self._moto_account)
        if status == 404 and (b"NoSuchKey" in body or request.method == "HEAD"):
            hidden = self._hidden_missing_key(request, context)
            if hidden is not None:
                return self.error_response(AwsError("AccessDenied", hidden, 403), context)
        if 200 <= status < 300:
            self._notify(request, context)
        return AwsResponse(status, body, headers)

    @staticmethod
    def _hidden_missing_key(request: AwsRequest, context: RequestContext) -> str | None:
        """S3 answers a missing key with 403 AccessDenied, not 404 NoSuchKey, when the caller may
        not `s3:ListBucket` the bucket (Amazon S3 API Reference, GetObject, "Permissions",
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html; HeadObject and
        CopyObject's source alike)."""
        source = request.header("x-amz-copy-source")
        if source:
            bucket = unquote(source).lstrip("/").partition("/")[0]
        else:
            target = S3Target.of(request)
            if not target.key:
                return None
            bucket = target.bucket
        return context.denial("s3:ListBucket", f"arn:aws:s3:::{bucket}")

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        """S3's XML error: Code, Message, the error's own elements, RequestId (S3 API Reference,
        "Error responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
        details = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in error.details.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"{details}<RequestId>{context.request_id}</RequestId></Error>"
        ).encode()
        return AwsResponse(
            error.status, body, {"Content-Type": "application/xml", "x-amz-request-id": context.request_id}
        )

    def _check_copy_source_conditions(self, request: AwsRequest) -> None:
        """CopyObject's `x-amz-copy-source-if-match` / `-if-none-match`: 412 PreconditionFailed when
        the source's current ETag does not match ("CopyObject",
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""
        if_match = request.header("x-amz-copy-source-if-match")
        if_none_match = request.header("x-amz-copy-source-if-none-match")
        if not if_match and not if_none_match:
            return
        source = unquote(request.header("x-amz-copy-source").split("?", 1)[0]).lstrip("/")
        bucket, _, key = source.partition("/")
        try:
            current = self._backend.get_object(bucket, key)
        except Exception:
            return  # moto answers NoSuchBucket / NoSuchKey
        if current is None:
            return
        etag = current.etag.strip('"')
        failed = (if_match and not _etag_matches(if_match, etag)) or (
            if_none_match and _etag_matches(if_none_match, etag)
        )
        if failed:
            raise AwsError(
                "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412
            )

    def _notify(self, request: AwsRequest, context: RequestContext) -> None:
        if self._event_sink is None:
            return
        bucket, _, key = request.raw_path.lstrip("/").partition("/")
        if not key or not self._notifications_on(bucket):
            return
        key = unquote(key)
        query = request.query
        if request.method == "PUT" and "partNumber" not in query and not _is_subresource(query):
            reason = "CopyObject" if request.header("x-amz-copy-source") else "PutObject"
            self._emit_created(bucket, key, reason, context)
        elif request.method == "POST" and "uploadId" in query:
            self._emit_created(bucket, key, "CompleteMultipartUpload", context)
        elif request.method == "DELETE" and not _is_subresource(query):
            entry = object_event_entry(
                detail_type="Object Deleted", reason="DeleteObject", bucket=bucket, key=key, size=None,
                etag=None, version_id=None, requester=context.account_id, request_id=context.request_id,
            )  # fmt: skip
            self._event_sink([entry])

    def _emit_created(self, bucket: str, key: str, reason: str, context: RequestContext) -> None:
        assert self._event_sink is not None
        stored = self._backend.get_object(bucket, key)
        entry = object_event_entry(
            detail_type="Object Created", reason=reason, bucket=bucket, key=key, size=stored.size,
            etag=stored.etag.strip('"'), version_id=stored.version_id, requester=context.account_id,
            request_id=context.request_id,
        )  # fmt: skip
        self._event_sink([entry])

    def _notifications_on(self, bucket: str) -> bool:
        with self._lock:
            if bucket in self._notifying:
                return True
        try:
            config = self._backend.get_bucket(bucket).notification_configuration
        except Exception:
            return False
        return config is not None and config.event_bridge is not None

    def get_object(self, bucket: str, key: str) -> StoredObject:
        """The :class:`~rsetl.objectstore.ObjectStore` read used by COPY."""
        try:
            found = self._backend.get_object(bucket, key)
        except Exception:
            found = None
            if bucket not in self.bucket_names():
                raise AwsError(
                    "NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404
                ) from None
        if found is None:
            raise AwsError("NoSuchKey", f"The specified key does not exist: s3://{bucket}/{key}", 404)
        return StoredObject(bucket, key, bytes(found.value), found.etag.strip('"'))

    def put_object(self, bucket: str, key: str, body: bytes) -> StoredObject:
        """The :class:`~rsetl.objectstore.ObjectStore` write used by UNLOAD.

        It sends no notification: the landing bucket's rules must not re-ingest unloaded files.
        """
        if bucket not in self._backend.buckets:
            raise AwsError("NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404)
        stored = self._backend.put_object(bucket, key, body)
        return StoredObject(bucket, key, body, stored.etag.strip('"'))

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        if bucket not in self._backend.buckets:
            raise AwsError("NoSuchBucket", f"The specified bucket does not exist: {bucket}", 404)
        return sorted(name for name in self._backend.buckets[bucket].keys if name.startswith(prefix))


def _etag_matches(condition: str, etag: str) -> bool:
    """Whether an If-Match style condition (ETags, quoted or not, comma-separated, or `*`) names `etag`."""
    wanted = {value.strip().strip('"') for value in condition.split(",")}
    return "*" in wanted or etag in wanted


def content_md5_error(request: AwsRequest) -> AwsError | None:
    """S3's check of `Content-MD5` (RFC 1864: the base64 of the body's 128-bit MD5): `InvalidDigest`
    when it is not one, `BadDigest` when it does not match the body."""
    claimed = request.header("Content-MD5")
    if not claimed:
        return None
    try:
        digest = base64.b64decode(claimed, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        return AwsError(
            "InvalidDigest",
            "The Content-MD5 you specified is not valid.",
            400,
            details={"Content-MD5": claimed},
        )
    computed = hashlib.md5(request.body, usedforsecurity=False).digest()
    if digest != computed:
        return AwsError(
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
            400,
            details={"ExpectedDigest": claimed, "CalculatedDigest": base64.b64encode(computed).decode()},
        )
    return None


def _is_subresource(query: dict[str, list[str]]) -> bool:
    return any(name in query for name in ("acl", "tagging", "retention", "legal-hold", "uploads", "uploadId"))
