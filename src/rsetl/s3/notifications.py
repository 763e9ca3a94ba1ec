"""S3's EventBridge notifications ("Object Created", "Object Deleted"), in AWS's event shape.

A notification describes the version its request wrote or the deletion it made, captured when the
request ran: concurrent requests on one key each report their own version, ETag and size ("Using
EventBridge", https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

DELETED_REASONS = frozenset({"DeleteObject"})
"""Reasons whose event is "Object Deleted" (DeleteObjects deletes with reason DeleteObject too); the
others (PutObject, CopyObject, CompleteMultipartUpload) are "Object Created"."""
DELETE_MARKER_CREATED = "Delete Marker Created"
PERMANENTLY_DELETED = "Permanently Deleted"


@dataclass(frozen=True)
class ObjectNotification:
    """A notification a request owes: what its event is built from, kept in the key's manifest until
    the event is journaled (the outbox)."""

    bucket: str
    key: str
    reason: str
    request_id: str
    requester: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    """The version the request wrote (or the delete marker it created, or the version it deleted)."""
    deletion_type: str | None = None
    """For "Object Deleted": `Delete Marker Created` or `Permanently Deleted`."""
    sequence: int = 0
    """Its place among the notifications of one request (DeleteObjects owes one per key)."""

    @property
    def detail_type(self) -> str:
        return "Object Deleted" if self.reason in DELETED_REASONS else "Object Created"

    @property
    def outbox_id(self) -> str:
        """Its id among the notifications pending for its key."""
        return self.request_id if self.sequence == 0 else f"{self.request_id}#{self.sequence}"

    @property
    def describes_a_version(self) -> bool:
        """Whether it holds the facts of its version; a record of an older outbox holds none."""
        return self.etag is not None or self.deletion_type is not None

    def record(self) -> dict[str, Any]:
        """The manifest's record of it (the bucket and key are the manifest's own)."""
        values = asdict(self)
        del values["bucket"], values["key"]
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_record(cls, bucket: str, key: str, record: dict[str, Any]) -> ObjectNotification:
        return cls(bucket, key, **record)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key} ({self.reason})"

    def event_entry(self) -> dict[str, Any]:
        """Its PutEvents-style entry for the default bus."""
        return object_event_entry(
            detail_type=self.detail_type, reason=self.reason, bucket=self.bucket, key=self.key,
            size=self.size, etag=self.etag, version_id=self.version_id, requester=self.requester,
            request_id=self.request_id, deletion_type=self.deletion_type,
        )  # fmt: skip


def object_event_entry(
    *,
    detail_type: str,
    reason: str,
    bucket: str,
    key: str,
    size: int | None,
    etag: str | None,
    version_id: str | None,
    requester: str,
    request_id: str,
    deletion_type: str | None = None,
) -> dict[str, Any]:
    """A PutEvents-style entry for the default bus, as S3 sends it when EventBridge is enabled."""
    obj: dict[str, Any] = {"key": key, "sequencer": uuid.uuid4().hex[:16].upper()}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["etag"] = etag
    if version_id:
        obj["version-id"] = version_id
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": request_id,
        "requester": requester,
        "source-ip-address": "127.0.0.1",
        "reason": reason,
    }
    if detail_type == "Object Deleted":
        detail["deletion-type"] = deletion_type or PERMANENTLY_DELETED
    return {
        "Source": "aws.s3",
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "EventBusName": "default",
    }
