"""Staging the exact object version an ingest loads (botocore Stubber).

"CopyObject" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html): with
``x-amz-copy-source-if-match`` S3 copies only while the source's ETag matches and answers 412
PreconditionFailed otherwise; a missing source is 404 NoSuchKey for a caller with s3:ListBucket.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from etl_common.staging import stage_version, staging_keys

BUCKET, KEY, ETAG = "landing-1", "sales/2024/03/01/a.csv", "abc123"


@pytest.fixture
def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def _copy_request() -> dict[str, Any]:
    return {
        "Bucket": BUCKET,
        "Key": f"rsetl-staging/exec-1/{KEY}",
        "CopySource": {"Bucket": BUCKET, "Key": KEY},
        "CopySourceIfMatch": ETAG,
        "MetadataDirective": "REPLACE",
        "Metadata": {"rsetl-etag": ETAG},
        "TaggingDirective": "REPLACE",
    }


def test_the_version_is_copied_and_listed_alone_in_a_mandatory_manifest(s3: Any) -> None:
    bodies: list[bytes] = []
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", "404", http_status_code=404)
        stubber.add_response("copy_object", {}, _copy_request())
        stubber.add_response(
            "put_object",
            {},
            {
                "Bucket": BUCKET,
                "Key": f"rsetl-staging/exec-1/{KEY}.manifest",
                "Body": ANY,
                "ContentType": ANY,
            },
        )
        s3.meta.events.register(
            "provide-client-params.s3.PutObject", lambda params, **_: bodies.append(params["Body"])
        )
        staged = stage_version(s3, BUCKET, KEY, ETAG, "exec-1")
    assert staged == {"status": "STAGED", "manifest": f"s3://{BUCKET}/rsetl-staging/exec-1/{KEY}.manifest"}
    assert json.loads(bodies[0]) == {
        "entries": [{"url": f"s3://{BUCKET}/rsetl-staging/exec-1/{KEY}", "mandatory": True}]
    }


@pytest.mark.parametrize(
    ("code", "status", "what"), [("PreconditionFailed", 412, "overwritten"), ("NoSuchKey", 404, "deleted")]
)
def test_a_version_that_is_no_longer_current_is_superseded(
    s3: Any, code: str, status: int, what: str
) -> None:
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", "404", http_status_code=404)
        stubber.add_client_error(
            "copy_object", code, http_status_code=status, expected_params=_copy_request()
        )
        staged = stage_version(s3, BUCKET, KEY, ETAG, "exec-1")
    assert staged == {
        "status": "SUPERSEDED",
        "reason": f"s3://{BUCKET}/{KEY} is no longer version {ETAG}: it was {what}",
    }


def test_a_copy_staged_by_an_earlier_try_is_kept(s3: Any) -> None:
    """A retried PrepareRun must not call the version superseded because a newer upload came since."""
    with Stubber(s3) as stubber:
        stubber.add_response(
            "head_object", {"ContentLength": 10}, {"Bucket": BUCKET, "Key": f"rsetl-staging/exec-1/{KEY}"}
        )
        stubber.add_response(
            "put_object", {}, {"Bucket": BUCKET, "Key": ANY, "Body": ANY, "ContentType": ANY}
        )
        assert stage_version(s3, BUCKET, KEY, ETAG, "exec-1")["status"] == "STAGED"


def test_a_key_too_long_to_prefix_is_staged_under_its_hash() -> None:
    key = "sales/" + "k" * 1000 + ".csv"
    copy_key, manifest_key = staging_keys("exec-1", key)
    assert copy_key == "rsetl-staging/exec-1/" + hashlib.sha256(key.encode()).hexdigest()
    assert manifest_key == copy_key + ".manifest"


def test_other_s3_errors_propagate(s3: Any) -> None:
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", "403", http_status_code=403)
        with pytest.raises(Exception, match="403"):
            stage_version(s3, BUCKET, KEY, ETAG, "exec-1")
