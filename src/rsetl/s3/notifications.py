"""S3's EventBridge notifications ("Object Created", "Object Deleted"), in AWS's event shape."""

from __future__ import annotations

import json
import uuid
from typing import Any


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
