"""The object store that COPY and UNLOAD read and write: the local S3, or memory in tests."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Protocol

from rsetl.errors import ServiceError


class ObjectStoreError(ServiceError):
    """Base of the S3 errors an :class:`ObjectStore` raises, named by S3's error codes."""

    status = 404


class NoSuchBucket(ObjectStoreError):
    """The bucket does not exist."""

    def __init__(self, bucket: str) -> None:
        super().__init__(f"The specified bucket does not exist: {bucket}")


class NoSuchKey(ObjectStoreError):
    """The bucket has no object of this key."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"The specified key does not exist: s3://{bucket}/{key}")


@dataclass(frozen=True)
class StoredObject:
    """One object's bytes and the metadata a loader needs."""

    bucket: str
    key: str
    body: bytes
    etag: str


class ObjectStore(Protocol):
    """What the Redshift stand-in needs from S3."""

    def get_object(self, bucket: str, key: str) -> StoredObject:
        """Return the object; raise :class:`NoSuchKey` or :class:`NoSuchBucket` when absent."""
        ...

    def put_object(self, bucket: str, key: str, body: bytes) -> StoredObject: ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""
        ...


class MemoryObjectStore:
    """An in-memory :class:`ObjectStore` for unit tests of the SQL layer."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._buckets: set[str] = set()
        self._lock = threading.Lock()

    def create_bucket(self, bucket: str) -> None:
        with self._lock:
            self._buckets.add(bucket)

    def get_object(self, bucket: str, key: str) -> StoredObject:
        with self._lock:
            if bucket not in self._buckets:
                raise NoSuchBucket(bucket)
            found = self._objects.get((bucket, key))
        if found is None:
            raise NoSuchKey(bucket, key)
        return found

    def put_object(self, bucket: str, key: str, body: bytes) -> StoredObject:
        stored = StoredObject(bucket, key, body, hashlib.md5(body, usedforsecurity=False).hexdigest())
        with self._lock:
            if bucket not in self._buckets:
                raise NoSuchBucket(bucket)
            self._objects[(bucket, key)] = stored
        return stored

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        with self._lock:
            return sorted(key for (b, key) in self._objects if b == bucket and key.startswith(prefix))
