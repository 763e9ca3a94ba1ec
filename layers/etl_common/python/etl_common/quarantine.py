"""Quarantine of a file whose ingest failed: a FAILED ledger row, then the object moves to
``quarantine/<original key>`` with the error in its metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .dataapi import (
    client_token,
    describe,
    is_running,
    sql_parameters,
    statement_error,
    statement_name,
    submit,
)
from .errors import DataApiError, InputError
from .target import RedshiftTarget

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_s3 import S3Client

QUARANTINE_PREFIX = "quarantine/"
RECORD_FAILED_LOAD_SQL = (
    "CALL etl.sp_record_failed_load(:bucket, :object_key, :etag, :pipeline, :execution_name, :error_message)"
)
_METADATA_VALUE_MAX = 1024
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_MISSING = ("NoSuchKey", "404", "PreconditionFailed", "412")


def failed_load(detail: Mapping[str, Any]) -> dict[str, str]:
    """The file and error of a "Pipeline Failed" event of an ingest pipeline."""
    parameters = detail.get("parameters") or {}
    missing = [name for name in ("bucket", "object_key", "etag") if not parameters.get(name)]
    if missing:
        raise InputError(
            f"Pipeline Failed event of {detail.get('pipeline')!r} lacks parameters {', '.join(missing)}"
        )
    step = detail.get("step") or "before any step"
    return {
        "bucket": str(parameters["bucket"]),
        "object_key": str(parameters["object_key"]),
        "etag": str(parameters["etag"]),
        "pipeline": str(detail["pipeline"]),
        "execution_name": str(detail["execution_name"]),
        "execution_arn": str(detail["execution_arn"]),
        "error_message": f"{step}: {detail.get('error_type')}: {detail.get('error')}",
    }


def record_failed_load(
    client: RedshiftDataAPIServiceClient,
    target: RedshiftTarget,
    load: Mapping[str, str],
    *,
    long_polls: int = 4,
    wait_seconds: int = 30,
) -> str:
    """Record a FAILED ledger row through ``etl.sp_record_failed_load``; returns the statement id.

    The client token is derived from the failed execution, so a redelivered event records once.
    """
    names = ["bucket", "object_key", "etag", "pipeline", "execution_name", "error_message"]
    response = submit(
        client,
        target,
        [RECORD_FAILED_LOAD_SQL],
        sql_parameters(names, load),
        name=statement_name(load["execution_name"], "record_failed_load"),
        token=client_token(load["execution_arn"], "record_failed_load", 0),
        wait_seconds=wait_seconds,
    )
    description: Mapping[str, Any] = {}
    for _ in range(long_polls):
        description = describe(client, response["Id"], wait_seconds)
        if not is_running(str(description.get("Status"))):
            break
    status = str(description.get("Status"))
    if status != "FINISHED":
        error = statement_error(description) or f"statement status {status}"
        raise DataApiError("CALL etl.sp_record_failed_load", status, error)
    return str(response["Id"])


def metadata_value(text: str) -> str:
    """``text`` as an S3 user-metadata value: printable ASCII, at most 1 KB."""
    return _NOT_PRINTABLE_ASCII.sub("?", text)[:_METADATA_VALUE_MAX]


def move_to_quarantine(s3: S3Client, load: Mapping[str, str]) -> str | None:
    """Copy the failed object version to ``quarantine/<key>`` and delete it from its landing key.

    Both calls are conditional on the ETag, so a newer upload to the same key is left alone.
    Returns the quarantine key, or ``None`` when the failed version is no longer there.
    """
    bucket, key, etag = load["bucket"], load["object_key"], load["etag"]
    quarantine_key = QUARANTINE_PREFIX + key
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=quarantine_key,
            CopySource={"Bucket": bucket, "Key": key},
            CopySourceIfMatch=etag,
            MetadataDirective="REPLACE",
            Metadata={
                "rsetl-pipeline": metadata_value(load["pipeline"]),
                "rsetl-execution": metadata_value(load["execution_name"]),
                "rsetl-error": metadata_value(load["error_message"]),
            },
        )
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise
    return quarantine_key
