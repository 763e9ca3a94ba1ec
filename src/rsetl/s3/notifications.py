"""S3's EventBridge notifications ("Object Created", "Object Deleted"), in AWS's event shape."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

DELETED_REASONS = frozenset({"DeleteObject"})
"""Reasons whose event is "Object Deleted"; the others (PutObject, CopyObject,
CompleteMultipartUpload) are "Object Created"."""


@dataclass(frozen=True)
class ObjectNotification:
    """A notification a request owes: what its event is built from, kept in the key's manifest until
    the event is journaled (the outbox)."""

    bucket: str
    key: str
    reason: str
    request_id: str
    requester: str

    @property
    def detail_type(self) -> str:
        return "Object Deleted" if self.reason in DELETED_REASONS else "Object Created"

    def record(self) -> dict[str, str]:
        """The manifest's record of it (the bucket and key are the manifest's own)."""
        return {"reason": self.reason, "request_id": self.request_id, "requester": self.requester}

    @classmethod
    def from_record(cls, bucket: str, key: str, record: dict[str, str]) -> ObjectNotification:
        return cls(bucket, key, record["reason"], record["request_id"], record["requester"])

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key} ({self.reason})"


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
        detail["deletion-type"] = "Permanently Deleted"
    return {
        "Source": "aws.s3",
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "EventBusName": "default",
    }
