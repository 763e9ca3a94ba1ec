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

The on-disk format, and its layout under the root, is :mod:`rsetl.s3.records`.
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.s3.models import FakeDeleteMarker, FakeKey

from rsetl.s3.files import fsync_dir, make_dir, write_atomically
from rsetl.s3.notifications import ObjectNotification
from rsetl.s3.records import (
    BLOB_ATTRIBUTE,
    BlobFile,
    bucket_dir,
    key_file,
    load_marker,
    load_upload,
    load_version,
    marker_record,
    read_parts_from,
    set_pending,
    upload_record,
    version_record,
)
from rsetl.s3.write_through import Mark, restore_setting, wrap_backend

logger = logging.getLogger(__name__)

_ATTACHED_ATTRIBUTE = "_rsetl_persistence"
"""Set on a moto backend this layer has loaded and wrapped."""


class S3Persistence:
    """Writes moto's S3 state through to `root` and loads it back."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._local = threading.local()
        self._locks_guard = threading.Lock()
        self._locks: dict[Mark, threading.Lock] = {}
        self._blobs: dict[Mark, set[str]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._outbox: dict[Mark, dict[str, ObjectNotification]] = {}
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
            make_dir(self.root / name)
        self._restore()
        wrap_backend(backend, self)

    def mark(self, mark: Mark) -> None:
        """`mark` changed: it is written when the outermost `recording` ends."""
        self._pending().append(mark)

    def keep_setting(self, bucket: str, setting: str, value: Any) -> None:
        self._settings.setdefault(bucket, {})[setting] = value

    def drop_setting(self, bucket: str, setting: str) -> None:
        self._settings.setdefault(bucket, {}).pop(setting, None)

    def _pending(self) -> list[Mark]:
        pending: list[Mark] | None = getattr(self._local, "pending", None)
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
        mark = Mark(notification.bucket, notification.key)
        with self._lock(mark):
            self._outbox.setdefault(mark, {})[notification.outbox_id] = notification
        self.mark(mark)

    def clear_notification(self, notification: ObjectNotification) -> None:
        """`notification`'s event is journaled: its manifest no longer holds it.

        The manifest is rewritten through a fsynced temporary file, so it is whole whatever a crash
        leaves, but the folder is not fsynced: a crash may bring back the manifest that still holds
        the notification, and the next start sends its event again (at least once).
        """
        mark = Mark(notification.bucket, notification.key)
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
            set_pending(document, pending.values())
            if document["versions"] or pending:
                write_atomically(manifest, json.dumps(document, indent=1).encode(), durable=False)
            else:
                manifest.unlink()

    def pending_notifications(self) -> list[ObjectNotification]:
        """The notifications the manifests hold (those of the last run were never journaled)."""
        return [
            notification for pending in list(self._outbox.values()) for notification in list(pending.values())
        ]

    # --- writing ------------------------------------------------------------------------------

    def _lock(self, mark: Mark) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(mark, threading.Lock())

    def _flush(self, mark: Mark) -> None:
        with self._lock(mark):
            if mark.upload is not None:
                self._flush_upload(mark.bucket, mark.upload)
            elif mark.key is None:
                self._flush_bucket(mark.bucket)
            else:
                self._flush_key(mark.bucket, mark.key)

    def _flush_bucket(self, name: str) -> None:
        record_path = self.root / "buckets" / f"{bucket_dir(name)}.json"
        bucket = self._backend.buckets.get(name)
        if bucket is None:
            record_path.unlink(missing_ok=True)
            fsync_dir(record_path.parent)
            for area in ("objects", "uploads", "blobs"):
                shutil.rmtree(self.root / area / bucket_dir(name), ignore_errors=True)
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
        write_atomically(record_path, json.dumps(record, indent=1).encode())

    def _flush_key(self, bucket_name: str, key_name: str) -> None:
        bucket = self._backend.buckets.get(bucket_name)
        versions = list(bucket.keys.getlist(key_name, []) if bucket is not None else [])
        mark = Mark(bucket_name, key_name)
        blob_dir = self.root / "blobs" / bucket_dir(bucket_name)
        manifest = self._manifest_path(mark)
        records = []
        for version in versions:
            if isinstance(version, FakeDeleteMarker):
                records.append(marker_record(version))
                continue
            if getattr(version, BLOB_ATTRIBUTE, None) is None:
                self._write_body(version, blob_dir)
                if version.multipart is not None:
                    read_parts_from(version, blob_dir / getattr(version, BLOB_ATTRIBUTE))
            records.append(version_record(version, self._backend))
        pending = self._outbox.get(mark, {}).values() if bucket is not None else ()
        if records or pending:
            # A delete that leaves no version keeps the manifest while its notification is pending.
            document: dict[str, Any] = {"bucket": bucket_name, "key": key_name, "versions": records}
            set_pending(document, pending)
            write_atomically(manifest, json.dumps(document, indent=1).encode())
        elif manifest.exists():
            manifest.unlink()
            fsync_dir(manifest.parent)
        kept = {str(r["blob"]) for r in records if "blob" in r}
        for gone in self._blobs.get(mark, set()) - kept:
            (blob_dir / gone).unlink(missing_ok=True)
        self._blobs[mark] = kept

    def _manifest_path(self, mark: Mark) -> Path:
        assert mark.key is not None
        return self.root / "objects" / bucket_dir(mark.bucket) / f"{key_file(mark.key)}.json"

    def _flush_upload(self, bucket_name: str, upload_id: str) -> None:
        """An upload in progress: its parts' bytes and a manifest; gone once completed or aborted.

        Parts stay in moto's memory too: a completed object keeps them for GetObject `partNumber`.
        """
        bucket = self._backend.buckets.get(bucket_name)
        multipart = bucket.multiparts.get(upload_id) if bucket is not None else None
        mark = Mark(bucket_name, upload=upload_id)
        blob_dir = self.root / "blobs" / bucket_dir(bucket_name)
        manifest = self.root / "uploads" / bucket_dir(bucket_name) / f"{key_file(upload_id)}.json"
        parts = []
        for part in multipart.parts.values() if multipart is not None else []:
            number = part.name
            blob = getattr(part, BLOB_ATTRIBUTE, None)
            if blob is None:
                blob = uuid.uuid4().hex
                with part.lock:
                    part._value_buffer.seek(0)
                    write_atomically(blob_dir / blob, part._value_buffer)
                setattr(part, BLOB_ATTRIBUTE, blob)
            parts.append({"number": number, "blob": blob})
        if multipart is not None:
            document = upload_record(bucket_name, upload_id, multipart, parts)
            write_atomically(manifest, json.dumps(document, indent=1).encode())
        elif manifest.exists():
            manifest.unlink()
            fsync_dir(manifest.parent)
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
            write_atomically(path, buffer)
            buffer.close()
            version._value_buffer = BlobFile(path)  # type: ignore[assignment]  # moto seeks and reads it
        setattr(version, BLOB_ATTRIBUTE, blob)

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
                restore_setting(backend, name, setting, value)
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
        blob_dir = self.root / "blobs" / bucket_dir(bucket_name)
        count = 0
        for manifest in sorted((self.root / "objects" / bucket_dir(bucket_name)).glob("*.json")):
            document = json.loads(manifest.read_text())
            mark = Mark(bucket_name, document["key"])
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
                    versions.append(load_marker(record, versions[-1] if versions else None, document["key"]))
                else:
                    versions.append(load_version(record, document["key"], bucket, blob_dir, self._backend))
            bucket.keys.setlist(document["key"], versions)
            self._blobs[mark] = {str(r["blob"]) for r in document["versions"] if "blob" in r}
            count += 1
        return count

    def _restore_uploads(self, bucket_name: str) -> int:
        bucket = self._backend.buckets[bucket_name]
        blob_dir = self.root / "blobs" / bucket_dir(bucket_name)
        count = 0
        for manifest in sorted((self.root / "uploads" / bucket_dir(bucket_name)).glob("*.json")):
            document = json.loads(manifest.read_text())
            multipart = load_upload(document, bucket)
            for part in document["parts"]:
                loaded = multipart.set_part(part["number"], (blob_dir / part["blob"]).read_bytes())
                setattr(loaded, BLOB_ATTRIBUTE, part["blob"])
            bucket.multiparts[multipart.id] = multipart
            self._blobs[Mark(bucket_name, upload=multipart.id)] = {str(p["blob"]) for p in document["parts"]}
            count += 1
        return count

    def _remove_unreferenced_blobs(self) -> None:
        """Blobs and temporary files written for a request that a crash cut short, before a
        manifest named them."""
        referenced = {(m.bucket, blob) for m, blobs in self._blobs.items() for blob in blobs}
        names = {bucket_dir(bucket): bucket for bucket in self._backend.buckets}
        for blob_dir in (self.root / "blobs").iterdir():
            bucket = names.get(blob_dir.name)
            for path in blob_dir.iterdir():
                if bucket is None or (bucket, path.name) not in referenced:
                    path.unlink()
        areas = ("buckets/.tmp-*", "objects/*/.tmp-*", "uploads/*/.tmp-*")
        for temporary in (path for pattern in areas for path in self.root.glob(pattern)):
            temporary.unlink()
