"""Snapshot the exact object version an ingest loads, and the one-entry manifest its COPY reads.

COPY from ``s3://bucket/key`` loads every object whose key starts with ``key`` and reads whatever
version is current when it runs. So before a load, the version the event names is copied to an
immutable staging key with ``CopySourceIfMatch: <etag>`` (S3 answers 412 PreconditionFailed when a
newer upload replaced it), and the COPY reads a manifest that lists only that copy, ``mandatory``.
("CopyObject", https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html; "Using a
manifest to specify data files", https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html)
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAGING_PREFIX = "rsetl-staging/"
"""Where staged copies and manifests live: no ingest rule matches it; a lifecycle rule expires it."""
STAGED = "STAGED"
SUPERSEDED = "SUPERSEDED"
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_SUPERSEDED = ("412", "PreconditionFailed")


_MAX_KEY_BYTES = 1024
_MANIFEST_SUFFIX = ".manifest"


def staging_keys(execution_name: str, key: str) -> tuple[str, str]:
    """The staged copy's key and its manifest's key for one execution (execution names are unique).

    They end with the source key, so the COPY's text (query history, ListStatements) names the
    file; a key too long for that is replaced by its SHA-256.
    """
    base = f"{STAGING_PREFIX}{execution_name}/"
    if len((base + key + _MANIFEST_SUFFIX).encode()) > _MAX_KEY_BYTES:
        key = hashlib.sha256(key.encode()).hexdigest()
    return base + key, base + key + _MANIFEST_SUFFIX


def stage_version(s3: S3Client, bucket: str, key: str, etag: str, execution_name: str) -> dict[str, str]:
    """Copy version ``etag`` of ``bucket/key`` to its staging key and write the manifest for it.

    Returns ``{"status": "STAGED", "manifest": "s3://..."}``, or ``{"status": "SUPERSEDED",
    "reason": ...}`` when that version is no longer the object's current one (overwritten or
    deleted). Safe to repeat: a copy already staged for the execution is kept, since only a copy
    of version ``etag`` can have been written there.
    """
    copy_key, manifest_key = staging_keys(execution_name, key)
    source = f"s3://{bucket}/{key}"
    try:
        s3.head_object(Bucket=bucket, Key=copy_key)
    except ClientError as err:
        if _code(err) not in _NOT_FOUND:
            raise
        try:
            s3.copy_object(
                Bucket=bucket,
                Key=copy_key,
                CopySource={"Bucket": bucket, "Key": key},
                CopySourceIfMatch=etag,
                MetadataDirective="REPLACE",
                Metadata={"rsetl-etag": etag.strip('"')[:128]},
                # No tags copied: that would need s3:GetObjectTagging and s3:PutObjectTagging too.
                TaggingDirective="REPLACE",
            )
        except ClientError as copy_err:
            if _code(copy_err) in _SUPERSEDED:
                return {
                    "status": SUPERSEDED,
                    "reason": f"{source} is no longer version {etag}: it was overwritten",
                }
            if _code(copy_err) in _NOT_FOUND:
                return {
                    "status": SUPERSEDED,
                    "reason": f"{source} is no longer version {etag}: it was deleted",
                }
            raise
    manifest = {"entries": [{"url": f"s3://{bucket}/{copy_key}", "mandatory": True}]}
    s3.put_object(
        Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ContentType="application/json"
    )
    return {"status": STAGED, "manifest": f"s3://{bucket}/{manifest_key}"}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
