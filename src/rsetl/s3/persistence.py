"""Local S3's objects kept in the state directory, written through before a request is answered.

moto keeps S3 in memory. This layer wraps the moto backend's mutating methods: each call marks the
bucket or key it changed, and when the request (or a direct call) ends, every marked key's versions
are written to disk (bodies first, then the key's manifest; each through a temporary file, fsync,
rename and a directory fsync), so an acknowledged PUT, copy, delete or completed multipart upload
survives SIGTERM, `kill -9` and a power cut. At start-up the buckets and keys are loaded back into
moto with their ETags, last-modified times, metadata, tags, ACLs and version ids, without
notifications (nothing new was created).

It is also the outbox of S3's EventBridge notifications: a request that owes one records it with
:meth:`S3Persistence.record_notification`, so the key's manifest, fsynced before the answer, holds it
as pending; once the event is journaled it is cleared (a rewrite without the folder's fsync: a clear
lost in a crash only sends the event again, at least once). The next start-up sends what is pending.

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

import copy
import datetime
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from inspect import signature
from pathlib import Path
from typing import Any, cast

from moto.s3.models import FakeAcl, FakeDeleteMarker, FakeGrant, FakeGrantee, FakeKey, FakeMultipart
from moto.s3.utils import CaseInsensitiveDict
from moto.utilities.utils import LowercaseDict

from rsetl.s3.notifications import ObjectNotification

logger = logging.getLogger(__name__)

_ATTACHED_ATTRIBUTE = "_rsetl_persistence"
"""Set on a moto backend this layer has loaded and wrapped."""
_BLOB_ATTRIBUTE = "_rsetl_blob"
"""The blob file name of a moto key version whose body is on disk."""

# A bucket name that is safe as a directory name as it is; any other is stored under its hash.
_PLAIN_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


_BUCKET_SETTINGS: dict[str, tuple[str, str | None]] = {
    "put_bucket_notification_configuration": ("notification_configuration", "notification_config"),
    "put_bucket_policy": ("policy", "policy"),
    "delete_bucket_policy": ("policy", None),
    "put_bucket_lifecycle": ("lifecycle", "rules"),
    "delete_bucket_lifecycle": ("lifecycle", None),
    "put_bucket_cors": ("cors", "cors_rules"),
    "delete_bucket_cors": ("cors", None),
    "put_bucket_tagging": ("tagging", "tags"),
    "delete_bucket_tagging": ("tagging", None),
    "put_bucket_encryption": ("encryption", "encryption"),
    "delete_bucket_encryption": ("encryption", None),
}
"""moto's bucket setting calls: the setting each one changes and the argument that holds its new
value (None: the call deletes it). A setting is kept as the call's argument and given back to the
same call at start-up."""
_RESTORE_SETTING = {
    setting: method for method, (setting, argument) in _BUCKET_SETTINGS.items() if argument is not None
}
_TEXT_SETTINGS = frozenset({"policy"})
"""Settings moto holds as bytes (a policy document), kept as UTF-8 text."""


@dataclass(frozen=True)
class _Mark:
    bucket: str
    key: str | None = None
    """None marks the bucket itself (created, deleted, reconfigured), or an upload."""
    upload: str | None = None
    """A multipart upload in progress (created, a part added, aborted, completed)."""


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


class S3Persistence:
    """Writes moto's S3 state through to `root` and loads it back."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._local = threading.local()
        self._locks_guard = threading.Lock()
        self._locks: dict[_Mark, threading.Lock] = {}
        self._blobs: dict[_Mark, set[str]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._outbox: dict[_Mark, dict[str, ObjectNotification]] = {}
        """The notifications pending for each key, by request id (its manifest holds them too)."""
        self._backend: Any = None
        self._attach_lock = threading.Lock()

    # --- wiring -------------------------------------------------------------------------------

    def attach(self, backend: Any) -> None:
        """Load the stored state into `backend`, then write every later change through.

        It does nothing for a backend attached already. moto's `reset` (which every moto service
        that starts afresh calls, for all services at once) empties the backend, so a reset
        backend is attached again and loads the state from disk again.
        """
        if getattr(backend, _ATTACHED_ATTRIBUTE, None) is self:
            return
        with self._attach_lock:
            if getattr(backend, _ATTACHED_ATTRIBUTE, None) is self:
                return
            self._attach(backend)
            setattr(backend, _ATTACHED_ATTRIBUTE, self)

    def _attach(self, backend: Any) -> None:
        self._backend = backend
        self._blobs.clear()
        self._settings.clear()
        self._outbox.clear()
        for name in ("buckets", "objects", "uploads", "blobs"):
            _make_dir(self.root / name)
        self._restore()
        marks: dict[str, Callable[..., list[_Mark]]] = {
            "create_bucket": lambda a: [_Mark(a["bucket_name"])],
            "delete_bucket": lambda a: [_Mark(a["bucket_name"])],
            "put_bucket_versioning": lambda a: [_Mark(a["bucket_name"])],
            "put_object": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "delete_object": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "put_object_acl": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "put_object_legal_hold": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "put_object_retention": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "delete_object_tagging": lambda a: [_Mark(a["bucket_name"], a["key_name"])],
            "put_object_tagging": lambda a: [_Mark(a["key"].bucket_name, a["key"].name)],
            "upload_part": lambda a: [_Mark(a["bucket_name"], upload=a["multipart_id"])],
            "upload_part_copy": lambda a: [_Mark(a["dest_bucket_name"], upload=a["multipart_id"])],
            "abort_multipart_upload": lambda a: [_Mark(a["bucket_name"], upload=a["multipart_id"])],
            "complete_multipart_upload": lambda a: [_Mark(a["bucket_name"], upload=a["multipart_id"])],
        }
        # moto's backends are shared by the process: one another runtime attached keeps its write-through
        # wrappers as instance attributes; dropping them wraps moto's own methods, not those wrappers.
        for name in (*marks, *_BUCKET_SETTINGS, "create_multipart_upload"):
            vars(backend).pop(name, None)
        # CreateMultipartUpload's id exists only once moto has made it: the mark comes from the result.
        create = backend.create_multipart_upload

        def create_multipart_upload(*args: Any, **kwargs: Any) -> Any:
            with self.recording():
                multipart = create(*args, **kwargs)
                bucket = kwargs.get("bucket_name", args[0] if args else None)
                self._pending().append(_Mark(str(bucket), upload=multipart.id))
            return multipart

        backend.create_multipart_upload = create_multipart_upload
        for name, mark in marks.items():
            setattr(backend, name, self._wrap(getattr(backend, name), mark))
        for name, (setting, argument) in _BUCKET_SETTINGS.items():
            setattr(backend, name, self._wrap_setting(getattr(backend, name), setting, argument))

    def _wrap_setting(self, method: Callable[..., Any], setting: str, argument: str | None) -> Any:
        """A bucket setting is kept once moto has taken it (a call it refuses changes nothing)."""
        parameters = signature(method)

        def write_through(*args: Any, **kwargs: Any) -> Any:
            bound = parameters.bind(*args, **kwargs)
            bucket = str(bound.arguments["bucket_name"])
            with self.recording():
                result = method(*args, **kwargs)
                settings = self._settings.setdefault(bucket, {})
                if argument is None:
                    settings.pop(setting, None)
                else:
                    value = bound.arguments[argument]
                    settings[setting] = value.decode() if setting in _TEXT_SETTINGS else copy.deepcopy(value)
                self._pending().append(_Mark(bucket))
            return result

        return write_through

    def _wrap(self, method: Callable[..., Any], mark: Callable[[dict[str, Any]], list[_Mark]]) -> Any:
        parameters = signature(method)

        def write_through(*args: Any, **kwargs: Any) -> Any:
            bound = parameters.bind(*args, **kwargs)
            with self.recording():
                try:
                    return method(*args, **kwargs)
                finally:
                    # A call that fails part-way may have changed the key all the same.
                    self._pending().extend(mark(bound.arguments))

        return write_through

    def _pending(self) -> list[_Mark]:
        pending: list[_Mark] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        return pending

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Changes made inside are written to disk when the outermost `recording` ends.

        A request handler wraps moto's whole answer in it, so what moto sets on a key after
        creating it (metadata, checksum, tags) is written too, before the answer is sent.
        """
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                pending, self._local.pending = self._pending(), []
                for mark in dict.fromkeys(pending):
                    self._flush(mark)

    # --- the outbox of notifications -------------------------------------------------------

    def record_notification(self, notification: ObjectNotification) -> None:
        """Keep `notification` pending in its key's manifest, written when the request's `recording` ends."""
        assert getattr(self._local, "depth", 0) > 0, "a notification is recorded inside `recording`"
        mark = _Mark(notification.bucket, notification.key)
        with self._lock(mark):
            self._outbox.setdefault(mark, {})[notification.outbox_id] = notification
        self._pending().append(mark)

    def clear_notification(self, notification: ObjectNotification) -> None:
        """`notification`'s event is journaled: its manifest no longer holds it.

        The manifest is rewritten through a fsynced temporary file, so it is whole whatever a crash
        leaves, but the folder is not fsynced: a crash may bring back the manifest that still holds
        the notification, and the next start sends its event again (at least once).
        """
        mark = _Mark(notification.bucket, notification.key)
        with self._lock(mark):
            pending = self._outbox.get(mark, {})
            if pending.pop(notification.outbox_id, None) is None:
                return
            if not pending:
                del self._outbox[mark]
            manifest = self._manifest_path(mark)
            try:
                document = json.loads(manifest.read_text())
            except FileNotFoundError:
                return  # the bucket was deleted since
            _set_pending(document, pending.values())
            if document["versions"] or pending:
                _write_atomically(manifest, json.dumps(document, indent=1).encode(), durable=False)
            else:
                manifest.unlink()

    def pending_notifications(self) -> list[ObjectNotification]:
        """The notifications the manifests hold (those of the last run were never journaled)."""
        return [
            notification for pending in list(self._outbox.values()) for notification in list(pending.values())
        ]

    # --- writing ------------------------------------------------------------------------------

    def _lock(self, mark: _Mark) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(mark, threading.Lock())

    def _flush(self, mark: _Mark) -> None:
        with self._lock(mark):
            if mark.upload is not None:
                self._flush_upload(mark.bucket, mark.upload)
            elif mark.key is None:
                self._flush_bucket(mark.bucket)
            else:
                self._flush_key(mark.bucket, mark.key)

    def _flush_bucket(self, name: str) -> None:
        record_path = self.root / "buckets" / f"{_bucket_dir(name)}.json"
        bucket = self._backend.buckets.get(name)
        if bucket is None:
            record_path.unlink(missing_ok=True)
            _fsync_dir(record_path.parent)
            for area in ("objects", "uploads", "blobs"):
                shutil.rmtree(self.root / area / _bucket_dir(name), ignore_errors=True)
            self._settings.pop(name, None)
            for mark in [mark for mark in self._outbox if mark.bucket == name]:
                del self._outbox[mark]
            return
        record = {
            "name": name,
            "region": bucket.region_name,
            "creation_date": bucket.creation_date.isoformat(),
            "versioning": bucket.versioning_status,
            "settings": self._settings.get(name, {}),
        }
        _write_atomically(record_path, json.dumps(record, indent=1).encode())

    def _flush_key(self, bucket_name: str, key_name: str) -> None:
        bucket = self._backend.buckets.get(bucket_name)
        versions = list(bucket.keys.getlist(key_name, []) if bucket is not None else [])
        mark = _Mark(bucket_name, key_name)
        blob_dir = self.root / "blobs" / _bucket_dir(bucket_name)
        manifest = self._manifest_path(mark)
        records = []
        for version in versions:
            if isinstance(version, FakeDeleteMarker):
                records.append(_marker_record(version))
                continue
            if getattr(version, _BLOB_ATTRIBUTE, None) is None:
                self._write_body(version, blob_dir)
                if version.multipart is not None:
                    _read_parts_from(version, blob_dir / getattr(version, _BLOB_ATTRIBUTE))
            records.append(_version_record(version, self._backend))
        pending = self._outbox.get(mark, {}).values() if bucket is not None else ()
        if records or pending:
            # A delete that leaves no version keeps the manifest while its notification is pending.
            document: dict[str, Any] = {"bucket": bucket_name, "key": key_name, "versions": records}
            _set_pending(document, pending)
            _write_atomically(manifest, json.dumps(document, indent=1).encode())
        elif manifest.exists():
            manifest.unlink()
            _fsync_dir(manifest.parent)
        kept = {str(r["blob"]) for r in records if "blob" in r}
        for gone in self._blobs.get(mark, set()) - kept:
            (blob_dir / gone).unlink(missing_ok=True)
        self._blobs[mark] = kept

    def _manifest_path(self, mark: _Mark) -> Path:
        assert mark.key is not None
        return self.root / "objects" / _bucket_dir(mark.bucket) / f"{_key_file(mark.key)}.json"

    def _flush_upload(self, bucket_name: str, upload_id: str) -> None:
        """An upload in progress: its parts' bytes and a manifest; gone once completed or aborted.

        Parts stay in moto's memory too: a completed object keeps them for GetObject `partNumber`.
        """
        bucket = self._backend.buckets.get(bucket_name)
        multipart = bucket.multiparts.get(upload_id) if bucket is not None else None
        mark = _Mark(bucket_name, upload=upload_id)
        blob_dir = self.root / "blobs" / _bucket_dir(bucket_name)
        manifest = self.root / "uploads" / _bucket_dir(bucket_name) / f"{_key_file(upload_id)}.json"
        parts = []
        for part in multipart.parts.values() if multipart is not None else []:
            number = part.name
            blob = getattr(part, _BLOB_ATTRIBUTE, None)
            if blob is None:
                blob = uuid.uuid4().hex
                with part.lock:
                    part._value_buffer.seek(0)
                    _write_atomically(blob_dir / blob, part._value_buffer)
                setattr(part, _BLOB_ATTRIBUTE, blob)
            parts.append({"number": number, "blob": blob})
        if multipart is not None:
            document = {
                "bucket": bucket_name, "upload_id": upload_id, "key": multipart.key_name,
                "metadata": dict(multipart.metadata), "storage": multipart.storage, "tags": multipart.tags,
                "acl": _acl_record(multipart.acl), "sse_encryption": multipart.sse_encryption,
                "kms_key_id": multipart.kms_key_id, "parts": parts,
            }  # fmt: skip
            _write_atomically(manifest, json.dumps(document, indent=1).encode())
        elif manifest.exists():
            manifest.unlink()
            _fsync_dir(manifest.parent)
        kept = {str(part["blob"]) for part in parts}
        for gone in self._blobs.get(mark, set()) - kept:
            (blob_dir / gone).unlink(missing_ok=True)
        self._blobs[mark] = kept

    @staticmethod
    def _write_body(version: FakeKey, blob_dir: Path) -> None:
        """Write a version's bytes to a new blob, then read them from there instead of memory."""
        blob = uuid.uuid4().hex
        path = blob_dir / blob
        with version.lock:
            buffer = version._value_buffer
            buffer.seek(0)
            _write_atomically(path, buffer)
            buffer.close()
            version._value_buffer = BlobFile(path)  # type: ignore[assignment]  # moto seeks and reads it
        setattr(version, _BLOB_ATTRIBUTE, blob)

    # --- loading ------------------------------------------------------------------------------

    def _restore(self) -> None:
        backend = self._backend
        for record_path in sorted((self.root / "buckets").glob("*.json")):
            record = json.loads(record_path.read_text())
            name = record["name"]
            if name not in backend.buckets:
                backend.create_bucket(name, record["region"])
            bucket = backend.buckets[name]
            bucket.creation_date = datetime.datetime.fromisoformat(record["creation_date"])
            if record["versioning"]:
                backend.put_bucket_versioning(name, record["versioning"])
            settings = dict(record.get("settings") or {})
            if record.get("notification_configuration") is not None:  # the layout before settings
                settings.setdefault("notification_configuration", record["notification_configuration"])
            for setting, value in settings.items():
                given = value.encode() if setting in _TEXT_SETTINGS else copy.deepcopy(value)
                getattr(backend, _RESTORE_SETTING[setting])(name, given)
            self._settings[name] = settings
            restored = self._restore_keys(name)
            uploads = self._restore_uploads(name)
            logger.info(
                "s3://%s: %d key(s), %d upload(s) in progress loaded from %s",
                name,
                restored,
                uploads,
                self.root,
            )
        self._remove_unreferenced_blobs()

    def _restore_keys(self, bucket_name: str) -> int:
        bucket = self._backend.buckets[bucket_name]
        blob_dir = self.root / "blobs" / _bucket_dir(bucket_name)
        count = 0
        for manifest in sorted((self.root / "objects" / _bucket_dir(bucket_name)).glob("*.json")):
            document = json.loads(manifest.read_text())
            mark = _Mark(bucket_name, document["key"])
            pending = [
                ObjectNotification.from_record(bucket_name, document["key"], record)
                for record in document.get("pending_notifications", [])
            ]
            if pending:
                self._outbox[mark] = {notification.outbox_id: notification for notification in pending}
            if not document["versions"]:
                continue  # a deleted key whose notification is pending
            versions: list[Any] = []
            for record in document["versions"]:
                if record["type"] == "delete-marker":
                    versions.append(_load_marker(record, versions[-1] if versions else None, document["key"]))
                else:
                    versions.append(_load_version(record, document["key"], bucket, blob_dir, self._backend))
            bucket.keys.setlist(document["key"], versions)
            self._blobs[mark] = {str(r["blob"]) for r in document["versions"] if "blob" in r}
            count += 1
        return count

    def _restore_uploads(self, bucket_name: str) -> int:
        bucket = self._backend.buckets[bucket_name]
        blob_dir = self.root / "blobs" / _bucket_dir(bucket_name)
        count = 0
        for manifest in sorted((self.root / "uploads" / _bucket_dir(bucket_name)).glob("*.json")):
            document = json.loads(manifest.read_text())
            multipart = FakeMultipart(
                document["key"], CaseInsensitiveDict(document["metadata"]), account_id=bucket.account_id,
                region_name=bucket.region_name, storage=document["storage"], tags=document["tags"],
                acl=_load_acl(document["acl"]), sse_encryption=document["sse_encryption"],
                kms_key_id=document["kms_key_id"],
            )  # fmt: skip
            multipart.id = document["upload_id"]
            for part in document["parts"]:
                loaded = multipart.set_part(part["number"], (blob_dir / part["blob"]).read_bytes())
                setattr(loaded, _BLOB_ATTRIBUTE, part["blob"])
            bucket.multiparts[multipart.id] = multipart
            self._blobs[_Mark(bucket_name, upload=multipart.id)] = {str(p["blob"]) for p in document["parts"]}
            count += 1
        return count

    def _remove_unreferenced_blobs(self) -> None:
        """Blobs and temporary files written for a request that a crash cut short, before a
        manifest named them."""
        referenced = {(m.bucket, blob) for m, blobs in self._blobs.items() for blob in blobs}
        names = {_bucket_dir(bucket): bucket for bucket in self._backend.buckets}
        for blob_dir in (self.root / "blobs").iterdir():
            bucket = names.get(blob_dir.name)
            for path in blob_dir.iterdir():
                if bucket is None or (bucket, path.name) not in referenced:
                    path.unlink()
        areas = ("buckets/.tmp-*", "objects/*/.tmp-*", "uploads/*/.tmp-*")
        for temporary in (path for pattern in areas for path in self.root.glob(pattern)):
            temporary.unlink()


def _read_parts_from(version: FakeKey, path: Path) -> None:
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


def _version_record(version: FakeKey, backend: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "version_id": version._version_id,
        "is_versioned": version._is_versioned,
        "last_modified": version.last_modified.isoformat(),
        "blob": getattr(version, _BLOB_ATTRIBUTE),
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
        "acl": _acl_record(version.acl),
        "tags": backend.tagger.get_tag_dict_for_resource(version.arn),
        "parts": _parts_record(version),
    }


def _marker_record(marker: FakeDeleteMarker) -> dict[str, Any]:
    return {
        "type": "delete-marker",
        "version_id": marker.version_id,
        "last_modified": marker.last_modified.isoformat(),
    }


def _load_version(record: dict[str, Any], name: str, bucket: Any, blob_dir: Path, backend: Any) -> FakeKey:
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
    key.acl = _load_acl(record["acl"])
    setattr(key, _BLOB_ATTRIBUTE, record["blob"])
    if record.get("parts"):
        key.multipart = _load_parts(record["parts"], key, blob_dir / record["blob"])
    if record["tags"]:
        backend.tagger.tag_resource(key.arn, [{"Key": k, "Value": v} for k, v in record["tags"].items()])
    return key


def _load_marker(record: dict[str, Any], previous: Any, name: str) -> FakeDeleteMarker:
    marker = cast(FakeDeleteMarker, FakeDeleteMarker.__new__(FakeDeleteMarker))
    # moto links a marker to the version it hid; the oldest kept entry may be a marker itself.
    marker.key = previous if previous is not None else marker  # type: ignore[assignment]
    marker.name = name
    marker.last_modified = datetime.datetime.fromisoformat(record["last_modified"])
    marker._version_id = record["version_id"]
    return marker


def _acl_record(acl: FakeAcl | None) -> list[dict[str, Any]] | None:
    if acl is None:
        return None
    return [
        {
            "grantees": [{"id": g.id, "uri": g.uri, "display_name": g.display_name} for g in grant.grantees],
            "permissions": list(grant.permissions),
        }
        for grant in acl.grants
    ]


def _load_acl(record: list[dict[str, Any]] | None) -> FakeAcl | None:
    if record is None:
        return None
    return FakeAcl(
        [
            FakeGrant([FakeGrantee(g["id"], g["uri"], g["display_name"]) for g in grant["grantees"]],
                      grant["permissions"])
            for grant in record
        ]
    )  # fmt: skip


def _bucket_dir(name: str) -> str:
    if _PLAIN_BUCKET_NAME.match(name) and ".." not in name:
        return name
    return "bucket-" + hashlib.sha256(name.encode()).hexdigest()


def _key_file(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _set_pending(document: dict[str, Any], pending: Iterable[ObjectNotification]) -> None:
    records = [notification.record() for notification in pending]
    if records:
        document["pending_notifications"] = records
    else:
        document.pop("pending_notifications", None)


def _write_atomically(path: Path, content: bytes | Any, *, durable: bool = True) -> None:
    """Write `content` (bytes or a readable file) to `path` so a crash leaves the old file or the new one.

    Not `durable`: the rename is not fsynced, so a crash may leave the old file (never a torn one).
    """
    _make_dir(path.parent)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as file:
            if isinstance(content, bytes):
                file.write(content)
            else:
                shutil.copyfileobj(content, file, 1024 * 1024)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def _make_dir(path: Path) -> None:
    """Create `path` (and its parents) durably: a new directory's entry is fsynced in its parent."""
    if path.is_dir():
        return
    _make_dir(path.parent)
    path.mkdir(exist_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
