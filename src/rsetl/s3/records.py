"""The on-disk format of local S3: moto's buckets, key versions, delete markers, ACLs and uploads as
JSON records and back, and the file names they are kept under.

Layout under the root (`<state dir>/s3`)::

    buckets/<bucket>.json            name, region, creation date, versioning, and the bucket's settings:
                                     notification configuration, policy, lifecycle, CORS, tags, encryption
    objects/<bucket>/<sha256>.json   one key: every version (oldest first) or delete marker, and the
                                     notifications pending for it
    uploads/<bucket>/<sha256>.json   one multipart upload in progress: its key, metadata and parts
    blobs/<bucket>/<uuid>            one version's bytes

Bodies are not held in memory: once written, a key's moto buffer is swapped for a reader of its
blob file (moto reads a body whole for each GET, as it did from its own buffer).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from moto.s3.models import FakeAcl, FakeDeleteMarker, FakeGrant, FakeGrantee, FakeKey, FakeMultipart
from moto.s3.utils import CaseInsensitiveDict
from moto.utilities.utils import LowercaseDict

from rsetl.s3.notifications import ObjectNotification

BLOB_ATTRIBUTE = "_rsetl_blob"
"""The blob file name of a moto key version whose body is on disk."""


# A bucket name that is safe as a directory name as it is; any other is stored under its hash.
_PLAIN_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class BlobFile:
    """A read-only, seekable view of one blob file (or of `length` bytes from `start` in it, for a
    part of a multipart object) that moto uses as a key's value buffer.

    It opens the file for each read, so a store of many objects holds no file descriptors.
    """

    def __init__(self, path: Path, start: int = 0, length: int | None = None) -> None:
        self.path = path
        self._start = start
        self._length = length
        self._position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            self._position = self._size() + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        left = max(0, self._size() - self._position)
        with self.path.open("rb") as file:
            file.seek(self._start + self._position)
            data = file.read(left if size < 0 else min(size, left))
        self._position += len(data)
        return data

    def _size(self) -> int:
        return self._length if self._length is not None else self.path.stat().st_size - self._start

    def close(self) -> None:
        """Nothing to release; the blob file goes when no manifest names it."""


def read_parts_from(version: FakeKey, path: Path) -> None:
    """A completed multipart object's parts (kept for GetObject `partNumber`) read from its blob."""
    assert version.multipart is not None
    start = 0
    for number in version.multipart.partlist:
        part = version.multipart.parts[number]
        with part.lock:
            if not isinstance(part._value_buffer, BlobFile):
                part._value_buffer.close()
                part._value_buffer = BlobFile(path, start, part.size)  # type: ignore[assignment]
        start += part.size


def _parts_record(version: FakeKey) -> list[dict[str, Any]] | None:
    if version.multipart is None:
        return None
    parts = version.multipart.parts
    return [
        {"number": n, "size": parts[n].size, "etag": parts[n].etag.strip('"')}
        for n in version.multipart.partlist
    ]


def _load_parts(record: list[dict[str, Any]], key: FakeKey, path: Path) -> FakeMultipart:
    multipart = FakeMultipart(
        key.name, CaseInsensitiveDict(), account_id=key.account_id, region_name=key.region_name
    )
    start = 0
    for part in record:
        loaded = FakeKey(
            part["number"], b"", account_id=key.account_id, region_name=key.region_name, etag=part["etag"]
        )
        loaded._value_buffer.close()
        loaded._value_buffer = BlobFile(path, start, part["size"])  # type: ignore[assignment]
        loaded.contentsize = part["size"]
        multipart.parts[part["number"]] = loaded
        multipart.partlist.append(part["number"])
        start += part["size"]
    return multipart


def version_record(version: FakeKey, backend: Any) -> dict[str, Any]:
    """A key version as its manifest keeps it."""
    return {
        "type": "object",
        "version_id": version._version_id,
        "is_versioned": version._is_versioned,
        "last_modified": version.last_modified.isoformat(),
        "blob": getattr(version, BLOB_ATTRIBUTE),
        "size": version.size,
        "etag": version.etag.strip('"'),
        "storage_class": version.storage_class,
        "metadata": dict(version.metadata),
        "encryption": version.encryption,
        "kms_key_id": version.kms_key_id,
        "bucket_key_enabled": version.bucket_key_enabled,
        "lock_mode": version.lock_mode,
        "lock_legal_status": version.lock_legal_status,
        "lock_until": version.lock_until,
        "checksum_algorithm": version.checksum_algorithm,
        "checksum_value": version.checksum_value,
        "checksum_type": version.checksum_type,
        "checksum_parts": version.checksum_parts,
        "website_redirect_location": version.website_redirect_location,
        "expiry": version._expiry.isoformat() if version._expiry is not None else None,
        "acl": acl_record(version.acl),
        "tags": backend.tagger.get_tag_dict_for_resource(version.arn),
        "parts": _parts_record(version),
    }


def marker_record(marker: FakeDeleteMarker) -> dict[str, Any]:
    """A delete marker as its key's manifest keeps it."""
    return {
        "type": "delete-marker",
        "version_id": marker.version_id,
        "last_modified": marker.last_modified.isoformat(),
    }


def load_version(record: dict[str, Any], name: str, bucket: Any, blob_dir: Path, backend: Any) -> FakeKey:
    """The moto key version a manifest record holds, its body read from its blob file."""
    key = FakeKey(
        name, b"", account_id=bucket.account_id, region_name=bucket.region_name,
        storage=record["storage_class"], etag=record["etag"], is_versioned=record["is_versioned"],
        version_id=record["version_id"], bucket_name=bucket.name, encryption=record["encryption"],
        kms_key_id=record["kms_key_id"], bucket_key_enabled=record["bucket_key_enabled"],
        lock_mode=record["lock_mode"], lock_legal_status=record["lock_legal_status"],
        lock_until=record["lock_until"], checksum_value=record["checksum_value"],
        checksum_type=record["checksum_type"], checksum_parts=record["checksum_parts"],
    )  # fmt: skip
    key._value_buffer.close()
    key._value_buffer = BlobFile(blob_dir / record["blob"])  # type: ignore[assignment]  # seeks, reads
    key.contentsize = record["size"]
    key.last_modified = datetime.datetime.fromisoformat(record["last_modified"])
    key._metadata = LowercaseDict()
    key._metadata.update(record["metadata"])
    key.checksum_algorithm = record["checksum_algorithm"]
    key.website_redirect_location = record["website_redirect_location"]
    key._expiry = datetime.datetime.fromisoformat(record["expiry"]) if record["expiry"] else None
    key.acl = load_acl(record["acl"])
    setattr(key, BLOB_ATTRIBUTE, record["blob"])
    if record.get("parts"):
        key.multipart = _load_parts(record["parts"], key, blob_dir / record["blob"])
    if record["tags"]:
        backend.tagger.tag_resource(key.arn, [{"Key": k, "Value": v} for k, v in record["tags"].items()])
    return key


def load_marker(record: dict[str, Any], previous: Any, name: str) -> FakeDeleteMarker:
    """The delete marker a manifest record holds, linked to the version before it."""
    marker = cast(FakeDeleteMarker, FakeDeleteMarker.__new__(FakeDeleteMarker))
    # moto links a marker to the version it hid; the oldest kept entry may be a marker itself.
    marker.key = previous if previous is not None else marker  # type: ignore[assignment]
    marker.name = name
    marker.last_modified = datetime.datetime.fromisoformat(record["last_modified"])
    marker._version_id = record["version_id"]
    return marker


def acl_record(acl: FakeAcl | None) -> list[dict[str, Any]] | None:
    """An ACL's grants as a record (None without an ACL)."""
    if acl is None:
        return None
    return [
        {
            "grantees": [{"id": g.id, "uri": g.uri, "display_name": g.display_name} for g in grant.grantees],
            "permissions": list(grant.permissions),
        }
        for grant in acl.grants
    ]


def load_acl(record: list[dict[str, Any]] | None) -> FakeAcl | None:
    """The ACL a record holds."""
    if record is None:
        return None
    return FakeAcl(
        [
            FakeGrant([FakeGrantee(g["id"], g["uri"], g["display_name"]) for g in grant["grantees"]],
                      grant["permissions"])
            for grant in record
        ]
    )  # fmt: skip


def bucket_dir(name: str) -> str:
    """The directory name of a bucket: its name when that is safe as one, else a hash of it."""
    if _PLAIN_BUCKET_NAME.match(name) and ".." not in name:
        return name
    return "bucket-" + hashlib.sha256(name.encode()).hexdigest()


def key_file(key: str) -> str:
    """The manifest name of a key (or an upload id): a hash of it."""
    return hashlib.sha256(key.encode()).hexdigest()


def set_pending(document: dict[str, Any], pending: Iterable[ObjectNotification]) -> None:
    """Keep `pending` in a key's manifest `document` (no field when none is pending)."""
    records = [notification.record() for notification in pending]
    if records:
        document["pending_notifications"] = records
    else:
        document.pop("pending_notifications", None)


def upload_record(
    bucket_name: str, upload_id: str, multipart: FakeMultipart, parts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest of a multipart upload in progress; `parts` name each part's number and blob."""
    return {
        "bucket": bucket_name, "upload_id": upload_id, "key": multipart.key_name,
        "metadata": dict(multipart.metadata), "storage": multipart.storage, "tags": multipart.tags,
        "acl": acl_record(multipart.acl), "sse_encryption": multipart.sse_encryption,
        "kms_key_id": multipart.kms_key_id, "parts": parts,
    }  # fmt: skip


def load_upload(document: dict[str, Any], bucket: Any) -> FakeMultipart:
    """The multipart upload an upload manifest holds, without its parts."""
    multipart = FakeMultipart(
        document["key"], CaseInsensitiveDict(document["metadata"]), account_id=bucket.account_id,
        region_name=bucket.region_name, storage=document["storage"], tags=document["tags"],
        acl=load_acl(document["acl"]), sse_encryption=document["sse_encryption"],
        kms_key_id=document["kms_key_id"],
    )  # fmt: skip
    multipart.id = document["upload_id"]
    return multipart
