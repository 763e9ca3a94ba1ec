"""The local S3 asks IAM for each request's permissions, and hides a missing key without ListBucket."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import CallerIdentity, LocalServer, Router, SigV4Verifier
from rsetl.iam import PolicyDocument, evaluate
from rsetl.s3 import S3Service

READ_ONLY = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::landing/sales/*"}
LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::landing"}
COPY = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::landing/quarantine/*"}


class _PolicyAuthorizer:
    def __init__(self, *statements: dict[str, Any]) -> None:
        self.policy = PolicyDocument.parse({"Version": "2012-10-17", "Statement": list(statements)}, "test")
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        self.asked.append((action, resource, dict(keys or {})))
        if evaluate(action, resource, keys or {}, identity_policies=[self.policy]).allowed:
            return None
        return f"User: role is not authorized to perform: {action} on resource: {resource}"


@pytest.fixture
def s3() -> Iterator[tuple[str, dict[str, _PolicyAuthorizer]]]:
    service = S3Service()
    service.create_bucket("landing")
    service._backend.put_object("landing", "sales/a.csv", b"a")
    authorizers = {
        "reader": _PolicyAuthorizer(READ_ONLY, COPY),
        "lister": _PolicyAuthorizer(READ_ONLY, LIST, COPY),
    }
    router = Router(
        SigV4Verifier({"reader": "secret", "lister": "secret", "test": "test"}),
        identities=lambda key: (
            CallerIdentity(f"AROAX:{key}", "role", authorizers[key]) if key in authorizers else None
        ),
    )
    router.register(service, fallback=True)
    with LocalServer(router) as server:
        yield server.url, authorizers


def _client(url: str, key: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def _code(error: ClientError) -> tuple[str, int]:
    return str(error.response["Error"]["Code"]), int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(s3: tuple[str, Any]) -> None:
    """ "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403
    Access Denied error" for an object that does not exist (Amazon S3 API Reference, GetObject,
    Permissions, https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""
    url, _ = s3
    assert _client(url, "reader").get_object(Bucket="landing", Key="sales/a.csv")["Body"].read() == b"a"
    with pytest.raises(ClientError) as hidden:
        _client(url, "reader").get_object(Bucket="landing", Key="sales/gone.csv")
    assert _code(hidden.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as missing:
        _client(url, "lister").get_object(Bucket="landing", Key="sales/gone.csv")
    assert _code(missing.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as head:
        _client(url, "reader").head_object(Bucket="landing", Key="sales/gone.csv")
    assert _code(head.value)[1] == 403
    source = {"Bucket": "landing", "Key": "sales/gone.csv"}
    with pytest.raises(ClientError) as copy_hidden:
        _client(url, "reader").copy_object(
            Bucket="landing", Key="quarantine/sales/gone.csv", CopySource=source
        )
    assert _code(copy_hidden.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as copy_missing:
        _client(url, "lister").copy_object(
            Bucket="landing", Key="quarantine/sales/gone.csv", CopySource=source
        )
    assert _code(copy_missing.value) == ("NoSuchKey", 404)


def test_each_request_needs_its_actions_on_its_resources(
    s3: tuple[str, dict[str, _PolicyAuthorizer]],
) -> None:
    """Required permissions per operation ("Required permissions for Amazon S3 API operations",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html):
    CopyObject needs s3:GetObject on the source and s3:PutObject on the target; listing needs
    s3:ListBucket on the bucket with the `s3:prefix` key."""
    url, authorizers = s3
    reader = _client(url, "reader")
    with pytest.raises(ClientError) as denied:
        reader.put_object(Bucket="landing", Key="sales/b.csv", Body=b"b")
    assert _code(denied.value) == ("AccessDenied", 403)
    assert (
        "s3:PutObject on resource: arn:aws:s3:::landing/sales/b.csv"
        in denied.value.response["Error"]["Message"]
    )
    reader.copy_object(
        Bucket="landing", Key="quarantine/a.csv", CopySource={"Bucket": "landing", "Key": "sales/a.csv"}
    )
    asked = [(action, resource) for action, resource, _ in authorizers["reader"].asked[-2:]]
    assert asked == [
        ("s3:PutObject", "arn:aws:s3:::landing/quarantine/a.csv"),
        ("s3:GetObject", "arn:aws:s3:::landing/sales/a.csv"),
    ]
    lister = _client(url, "lister")
    assert [o["Key"] for o in lister.list_objects_v2(Bucket="landing", Prefix="sales/")["Contents"]] == [
        "sales/a.csv"
    ]
    assert authorizers["lister"].asked[-1] == (
        "s3:ListBucket",
        "arn:aws:s3:::landing",
        {"s3:prefix": "sales/"},
    )
    with pytest.raises(ClientError):
        reader.list_objects_v2(Bucket="landing")
