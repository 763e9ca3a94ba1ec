"""s3:// URLs and reading objects for COPY."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rsetl.objectstore import ObjectStore, ObjectStoreError, StoredObject
from rsetl.redshift_sql.exceptions import S3AccessError, UnsupportedSqlError


@dataclass(frozen=True)
class S3Url:
    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str, what: str) -> S3Url:
        if not url.startswith("s3://"):
            raise UnsupportedSqlError(
                f"{what} from or to {url.split(':', 1)[0]!r} sources", "only s3:// is supported"
            )
        bucket, _, key = url[len("s3://") :].partition("/")
        if not bucket:
            raise S3AccessError(f"invalid S3 URL: {url}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def get_object(store: ObjectStore, url: S3Url) -> StoredObject:
    try:
        return store.get_object(url.bucket, url.key)
    except ObjectStoreError as error:
        raise S3AccessError(f"cannot read {url}: {error}") from error


def list_objects(store: ObjectStore, url: S3Url) -> list[S3Url]:
    """Every object whose key starts with the URL's key, as COPY loads them (folder markers skipped)."""
    try:
        keys = store.list_keys(url.bucket, url.key)
    except ObjectStoreError as error:
        raise S3AccessError(f"cannot list {url}: {error}") from error
    found = [S3Url(url.bucket, key) for key in keys if not key.endswith("/")]
    if not found:
        raise S3AccessError(f"The specified S3 prefix '{url.key}' does not exist")
    return found


def manifest_entries(store: ObjectStore, url: S3Url) -> list[S3Url]:
    """The files a COPY manifest lists: a missing mandatory file fails, a missing optional one is skipped."""
    try:
        document = json.loads(get_object(store, url).body)
        entries = document["entries"]
    except (ValueError, KeyError, TypeError) as error:
        raise S3AccessError(f"invalid manifest {url}: {error}") from error
    files = []
    for entry in entries:
        file = S3Url.parse(str(entry.get("url", "")), "COPY")
        try:
            store.get_object(file.bucket, file.key)
        except ObjectStoreError as error:
            if entry.get("mandatory", False):
                raise S3AccessError(f"manifest {url}: mandatory file {file} is missing") from error
            continue
        files.append(file)
    if not files:
        # "Regardless of any mandatory settings, COPY will terminate if no files are found."
        raise S3AccessError(f"manifest {url}: none of the files it lists was found")
    return files
