"""Local S3 through the real boto3 client: objects, notifications, the ObjectStore view, signatures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router
from rsetl.objectstore import NoSuchBucket, NoSuchKey
from rsetl.s3 import S3Service


@pytest.fixture
def published() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def s3(published: list[dict[str, Any]]) -> Iterator[tuple[S3Service, str]]:
    service = S3Service(event_sink=published.extend)
    service.create_bucket("landing", eventbridge=True)
    service.create_bucket("quiet")
    router = Router()
    router.register(service, fallback=True)
    with LocalServer(router) as server:
        yield service, server.url


def _client(url: str, secret: str = "test") -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def test_put_publishes_object_created_with_aws_detail(s3, published) -> None:
    _, url = s3
    response = _client(url).put_object(Bucket="landing", Key="sales/2026/11/a b ü.csv", Body=b"x,y\n1,2\n")
    (entry,) = published
    assert entry["Source"] == "aws.s3"
    assert entry["DetailType"] == "Object Created"
    assert entry["Resources"] == ["arn:aws:s3:::landing"]
    detail = json.loads(entry["Detail"])
    assert detail["bucket"] == {"name": "landing"}
    assert detail["object"]["key"] == "sales/2026/11/a b ü.csv"
    assert detail["object"]["size"] == 8
    assert detail["object"]["etag"] == response["ETag"].strip('"')
    assert detail["reason"] == "PutObject"


def test_bucket_without_eventbridge_stays_quiet(s3, published) -> None:
    _, url = s3
    _client(url).put_object(Bucket="quiet", Key="k.csv", Body=b"1")
    assert published == []


def test_copy_and_delete_notify(s3, published) -> None:
    _, url = s3
    client = _client(url)
    client.put_object(Bucket="landing", Key="a.csv", Body=b"1")
    client.copy_object(
        Bucket="landing", Key="quarantine/a.csv", CopySource={"Bucket": "landing", "Key": "a.csv"}
    )
    client.delete_object(Bucket="landing", Key="a.csv")
    assert [(e["DetailType"], json.loads(e["Detail"])["reason"]) for e in published] == [
        ("Object Created", "PutObject"),
        ("Object Created", "CopyObject"),
        ("Object Deleted", "DeleteObject"),
    ]


def test_object_store_view_reads_what_the_api_wrote(s3) -> None:
    service, url = s3
    _client(url).put_object(Bucket="landing", Key="sales/x.csv", Body=b"a,b\n")
    stored = service.get_object("landing", "sales/x.csv")
    assert stored.body == b"a,b\n"
    assert service.list_keys("landing", "sales/") == ["sales/x.csv"]
    service.put_object("landing", "unload/part_000", b"1|2\n")
    body = _client(url).get_object(Bucket="landing", Key="unload/part_000")["Body"].read()
    assert body == b"1|2\n"


def test_missing_object_and_bucket_raise_their_s3_errors(s3) -> None:
    service, _ = s3
    with pytest.raises(NoSuchKey, match="NoSuchKey"):
        service.get_object("landing", "nope.csv")
    with pytest.raises(NoSuchBucket, match="NoSuchBucket"):
        service.get_object("nobucket", "nope.csv")


def test_wrong_secret_is_refused_with_s3_error(s3) -> None:
    """S3 names a bad signature SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, both 403
    ("Error responses", List of error codes, Amazon S3 API Reference,
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList); the
    JSON services' InvalidSignatureException and UnrecognizedClientException are not S3's codes."""
    _, url = s3
    with pytest.raises(ClientError) as caught:
        _client(url, secret="wrong").list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAUNKNOWN",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    with pytest.raises(ClientError) as caught:
        unknown.list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert caught.value.response["Error"]["Message"] == (
        "The AWS Access Key Id you provided does not exist in our records."
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_new_local_s3_starts_empty(s3) -> None:
    service, _ = s3
    assert service.bucket_names() == ["landing", "quiet"]
    assert S3Service().bucket_names() == []


KEYS = ["a/b", "a%2Fb", "100%", "100%25", "q?x=1", "q", "with space", "plus+sign", "ü/日本/ñ.csv", "a~b*c'd"]


def test_keys_are_stored_exactly_as_sent(s3) -> None:
    """S3 keys are any UTF-8 sequence and are stored as given: `a%2Fb` is not `a/b`, `q?x=1` not `q`.

    Naming Amazon S3 objects (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html):
    "The object key name consists of a sequence of Unicode characters encoded in UTF-8".
    """
    service, url = s3
    client = _client(url)
    for key in KEYS:
        client.put_object(Bucket="quiet", Key=key, Body=key.encode())
    listed = [item["Key"] for item in client.list_objects_v2(Bucket="quiet")["Contents"]]
    assert sorted(listed) == sorted(KEYS)
    assert service.list_keys("quiet", "") == sorted(KEYS)
    for key in KEYS:
        assert client.get_object(Bucket="quiet", Key=key)["Body"].read() == key.encode()
        assert service.get_object("quiet", key).body == key.encode()


def test_notification_names_the_key_as_sent(s3, published) -> None:
    _, url = s3
    _client(url).put_object(Bucket="landing", Key="in/100%25 a+b?.csv", Body=b"1")
    (entry,) = published
    assert json.loads(entry["Detail"])["object"]["key"] == "in/100%25 a+b?.csv"


def test_head_object_returns_the_objects_size(s3) -> None:
    """HEAD Object's Content-Length is the size of the object's body, though the answer has none.

    HeadObject, Response Syntax (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html):
    Content-Length, "Size of the body in bytes".
    """
    _, url = s3
    client = _client(url)
    client.put_object(Bucket="quiet", Key="sized.csv", Body=b"x" * 1234)
    assert client.head_object(Bucket="quiet", Key="sized.csv")["ContentLength"] == 1234
    assert client.get_object(Bucket="quiet", Key="sized.csv")["ContentLength"] == 1234
    ranged = client.get_object(Bucket="quiet", Key="sized.csv", Range="bytes=0-9")
    assert ranged["ContentLength"] == 10
    assert ranged["Body"].read() == b"x" * 10


def test_copy_and_delete_address_keys_as_sent(s3) -> None:
    _, url = s3
    client = _client(url)
    for key in ("a/b", "a%2Fb", "q?x=1"):
        client.put_object(Bucket="quiet", Key=key, Body=key.encode())
    client.copy_object(Bucket="quiet", Key="copy/q?x=1", CopySource={"Bucket": "quiet", "Key": "q?x=1"})
    client.delete_object(Bucket="quiet", Key="a%2Fb")
    listed = [item["Key"] for item in client.list_objects_v2(Bucket="quiet")["Contents"]]
    assert sorted(listed) == ["a/b", "copy/q?x=1", "q?x=1"]
    assert client.get_object(Bucket="quiet", Key="copy/q?x=1")["Body"].read() == b"q?x=1"


def test_copy_object_source_conditions_are_enforced(s3) -> None:
    """CopyObject copies only while `x-amz-copy-source-if-match` names the source's current ETag
    (and `-if-none-match` does not); otherwise 412 PreconditionFailed ("CopyObject",
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). moto ignores both."""
    _, url = s3
    client = _client(url)
    first = client.put_object(Bucket="quiet", Key="v.csv", Body=b"one")["ETag"]
    second = client.put_object(Bucket="quiet", Key="v.csv", Body=b"two")["ETag"]
    source = {"Bucket": "quiet", "Key": "v.csv"}
    for condition in ({"CopySourceIfMatch": first}, {"CopySourceIfNoneMatch": second.strip('"')}):
        with pytest.raises(ClientError) as refused:
            client.copy_object(Bucket="quiet", Key="copy.csv", CopySource=source, **condition)
        assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    client.copy_object(Bucket="quiet", Key="copy.csv", CopySource=source, CopySourceIfMatch=second.strip('"'))
    assert client.get_object(Bucket="quiet", Key="copy.csv")["Body"].read() == b"two"


def test_delete_objects_sends_object_deleted_for_each_key(s3, published) -> None:
    """S3 sends "Object Deleted" for an object deleted through the API, reason `DeleteObject`, and
    `Permanently Deleted` for an unversioned object ("Using EventBridge",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html)."""
    _, url = s3
    client = _client(url)
    for key in ("a.csv", "b.csv"):
        client.put_object(Bucket="landing", Key=key, Body=b"1")
    published.clear()
    client.delete_objects(Bucket="landing", Delete={"Objects": [{"Key": "a.csv"}, {"Key": "b.csv"}]})
    details = [json.loads(e["Detail"]) for e in published]
    assert [e["DetailType"] for e in published] == ["Object Deleted", "Object Deleted"]
    assert [(d["object"]["key"], d["reason"], d["deletion-type"]) for d in details] == [
        ("a.csv", "DeleteObject", "Permanently Deleted"),
        ("b.csv", "DeleteObject", "Permanently Deleted"),
    ]


def test_a_delete_marker_is_reported_as_created_and_a_deleted_version_as_permanently_deleted(
    s3, published
) -> None:
    """ "When a delete marker is created for a versioned object, the deletion-type field is set to Delete
    Marker Created"; a versioned object permanently deleted is `Permanently Deleted` ("Using EventBridge",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html)."""
    _, url = s3
    client = _client(url)
    client.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
    version = client.put_object(Bucket="landing", Key="v.csv", Body=b"1")["VersionId"]
    published.clear()
    marker = client.delete_object(Bucket="landing", Key="v.csv")
    client.delete_objects(Bucket="landing", Delete={"Objects": [{"Key": "v.csv", "VersionId": version}]})
    details = [json.loads(e["Detail"]) for e in published]
    assert [(d["deletion-type"], d["object"]["version-id"]) for d in details] == [
        ("Delete Marker Created", marker["VersionId"]),
        ("Permanently Deleted", version),
    ]
