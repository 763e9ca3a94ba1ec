"""The S3 REST API served by moto in-process.

Added here: EventBridge notifications to the local bus (moto would send them to its own bus), at
least once through the persistence's outbox; CopyObject's source conditions (moto ignores them); and
the :class:`~rsetl.objectstore.ObjectStore` view that COPY and UNLOAD use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from moto.s3.models import s3_backends
from moto.server import create_backend_app

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.router import LOCAL_ACCOUNT_ID
from rsetl.awsproto.wsgi import call_wsgi
from rsetl.objectstore import NoSuchBucket, NoSuchKey, StoredObject
from rsetl.s3.checks import bucket_name_error, content_md5_error, copy_source_error, malformed_xml_error
from rsetl.s3.notifications import ObjectNotification
from rsetl.s3.permissions import S3Target, required_permissions
from rsetl.s3.persistence import S3Persistence
from rsetl.s3.writes import Writes, notifications_of

logger = logging.getLogger(__name__)

AT_ONCE_BYTES = 1024 * 1024
"""Largest object a GET or HEAD reads on the server's event loop (a larger one is read in its pool)."""
MAX_OBJECT_BODY = 512 * 1024 * 1024
"""Largest request body the local S3 reads (refused, before reading, with EntityTooLarge); AWS takes
5 GB in one PUT, a local development endpoint far less."""

EventSink = Callable[[list[dict[str, Any]]], object]
"""Receives PutEvents-style entries (the local EventBridge's `publish`)."""


class S3Service:
    """Local S3 on the shared port: every request no other service claims lands here."""

    signing_name = "s3"
    max_request_body = MAX_OBJECT_BODY

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
        self._writes = Writes()

    @property
    def _backend(self) -> Any:
        backend = s3_backends[self._moto_account]["aws"]
        if self._persistence is not None:
            self._persistence.attach(backend)
        self._writes.observe(backend)
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

    def answers_at_once(self, request: AwsRequest) -> bool:
        """A GET or HEAD of one object of at most AT_ONCE_BYTES: moto reads it from memory (or, kept
        in the state directory, from one small file), writing nothing and sending no notification."""
        if request.method not in ("GET", "HEAD") or request.raw_query:
            return False
        target = S3Target.of(request)
        bucket = self._backend.buckets.get(target.bucket)
        version = bucket.keys.get(target.key) if bucket is not None and target.key else None
        return version is not None and version.size <= AT_ONCE_BYTES

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        wire_error = content_md5_error(request) or bucket_name_error(request) or malformed_xml_error(request)
        if wire_error is not None:
            return self.error_response(wire_error, context)
        for needed in required_permissions(request):
            message = context.denial(needed.action, needed.resource, needed.keys)
            if message is not None:
                return self.error_response(AwsError("AccessDenied", message, 403), context)
        if request.method == "PUT" and request.header("x-amz-copy-source"):
            precondition = copy_source_error(request, self._current_etag)
            if precondition is not None:
                raise precondition
        kind = self._notification_kind(request)
        owed: list[ObjectNotification] = []
        with self._written_through(), self._writes.during() as writes:
            status, headers, body = call_wsgi(self._app, request, self._moto_account)
            if kind is not None and 200 <= status < 300:
                owed = notifications_of(kind, writes, context)
            if self._persistence is not None:
                for notification in owed:
                    self._persistence.record_notification(notification)
        if status == 404 and (b"NoSuchKey" in body or request.method == "HEAD"):
            hidden = self._hidden_missing_key(request, context)
            if hidden is not None:
                return self.error_response(AwsError("AccessDenied", hidden, 403), context)
        for notification in owed:
            self._send(notification)
        return AwsResponse(status, body, headers)

    def send_pending_notifications(self) -> list[ObjectNotification]:
        """Send the notifications the state directory holds pending: requests of the last run whose
        object was stored but whose event was never journaled (it stopped in between). Each is sent
        as its request made it; called at start-up, once the event sink is wired. Gives those
        sent (one whose key has no current version left is cleared unsent)."""
        if self._persistence is None or self._event_sink is None:
            return []
        self._backend  # noqa: B018 - loads the state, and with it the outbox
        return [n for n in self._persistence.pending_notifications() if self._send(n, pending=True)]

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

    def _current_etag(self, bucket: str, key: str) -> str | None:
        try:
            current = self._backend.get_object(bucket, key)
        except Exception:
            return None
        return None if current is None else str(current.etag).strip('"')

    def _notification_kind(self, request: AwsRequest) -> tuple[str, str, str] | None:
        """(bucket, key, reason) of the notifications `request` owes if it succeeds: an object created
        or deleted in a bucket that sends its events to EventBridge (the key is empty for DeleteObjects)."""
        if self._event_sink is None:
            return None
        bucket, _, key = request.raw_path.lstrip("/").partition("/")
        if not bucket or not self._notifications_on(bucket):
            return None
        query = request.query
        if not key:
            # DeleteObjects deletes with the reason DeleteObject, one event per key it deletes.
            return (bucket, "", "DeleteObject") if request.method == "POST" and "delete" in query else None
        if request.method == "PUT" and "partNumber" not in query and not _is_subresource(query):
            reason = "CopyObject" if request.header("x-amz-copy-source") else "PutObject"
        elif request.method == "POST" and "uploadId" in query:
            reason = "CompleteMultipartUpload"
        elif request.method == "DELETE" and not _is_subresource(query):
            reason = "DeleteObject"
        else:
            return None
        return bucket, unquote(key), reason

    def _send(self, notification: ObjectNotification, *, pending: bool = False) -> bool:
        """Hand the notification's event to the sink (which journals it), then clear it from the
        outbox; a stop in between leaves it pending, for the next start to send. False: no event."""
        assert self._event_sink is not None
        entry = self._event_entry(notification, pending)
        if entry is not None:
            self._event_sink([entry])
        if self._persistence is not None:
            self._persistence.clear_notification(notification)
        return entry is not None

    def _event_entry(self, notification: ObjectNotification, pending: bool) -> dict[str, Any] | None:
        """The event of `notification`. A pending creation of a key that has no current version left
        (deleted since, its "Object Deleted" sent) is not sent; one an older outbox recorded without
        its version's facts describes the key's current version."""
        if notification.detail_type == "Object Created" and (pending or not notification.describes_a_version):
            stored = self._backend.get_object(notification.bucket, notification.key)
            if stored is None:
                logger.warning("%s: not notified, the key has no current version", notification.describe())
                return None
            if not notification.describes_a_version:
                notification = replace(
                    notification, size=stored.size, etag=stored.etag.strip('"'), version_id=stored.version_id
                )
        return notification.event_entry()

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
                raise NoSuchBucket(bucket) from None
        if found is None:
            raise NoSuchKey(bucket, key)
        return StoredObject(bucket, key, bytes(found.value), found.etag.strip('"'))

    def put_object(self, bucket: str, key: str, body: bytes) -> StoredObject:
        """The :class:`~rsetl.objectstore.ObjectStore` write used by UNLOAD.

        It sends no notification: the landing bucket's rules must not re-ingest unloaded files.
        """
        if bucket not in self._backend.buckets:
            raise NoSuchBucket(bucket)
        stored = self._backend.put_object(bucket, key, body)
        return StoredObject(bucket, key, body, stored.etag.strip('"'))

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        if bucket not in self._backend.buckets:
            raise NoSuchBucket(bucket)
        return sorted(name for name in self._backend.buckets[bucket].keys if name.startswith(prefix))


def _is_subresource(query: dict[str, list[str]]) -> bool:
    return any(name in query for name in ("acl", "tagging", "retention", "legal-hold", "uploads", "uploadId"))
