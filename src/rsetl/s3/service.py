"""The S3 REST API served by moto in-process.

Added here: EventBridge notifications to the local bus (moto would send them to its own bus)
and the :class:`~rsetl.objectstore.ObjectStore` view that COPY and UNLOAD use.
"""

from __future__ import annotations

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
        for needed in required_permissions(request):
            message = context.denial(needed.action, needed.resource, needed.keys)
            if message is not None:
                return self.error_response(AwsError("AccessDenied", message, 403), context)
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
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"<RequestId>{context.request_id}</RequestId></Error>"
        ).encode()
        status = 403 if error.status == 400 and "Signature" in error.code else error.status
        return AwsResponse(
            status, body, {"Content-Type": "application/xml", "x-amz-request-id": context.request_id}
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


def _is_subresource(query: dict[str, list[str]]) -> bool:
    return any(name in query for name in ("acl", "tagging", "retention", "legal-hold", "uploads", "uploadId"))
