"""S3's checks of a request that moto leaves out or words otherwise: Content-MD5, bucket names, XML
bodies, and CopyObject's source conditions."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from urllib.parse import unquote

from rsetl.awsproto import AwsError, AwsRequest
from rsetl.s3.permissions import S3Target

__all__ = ["bucket_name_error", "content_md5_error", "copy_source_error", "malformed_xml_error"]

_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


_XML_SUBRESOURCES = ("tagging", "acl", "retention", "legal-hold", "restore", "select")
"""Object subresources whose request body is XML (a bucket-level body is XML but for `policy`)."""


def content_md5_error(request: AwsRequest) -> AwsError | None:
    """S3's check of `Content-MD5` (RFC 1864: the base64 of the body's 128-bit MD5): `InvalidDigest`
    when it is not one, `BadDigest` when it does not match the body."""
    claimed = request.header("Content-MD5")
    if not claimed:
        return None
    try:
        digest = base64.b64decode(claimed, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        return AwsError(
            "InvalidDigest",
            "The Content-MD5 you specified is not valid.",
            400,
            details={"Content-MD5": claimed},
        )
    computed = hashlib.md5(request.body, usedforsecurity=False).digest()
    if digest != computed:
        return AwsError(
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
            400,
            details={"ExpectedDigest": claimed, "CalculatedDigest": base64.b64encode(computed).decode()},
        )
    return None


def bucket_name_error(request: AwsRequest) -> AwsError | None:
    """CreateBucket's check of the general purpose bucket naming rules (Amazon S3 User Guide, "General
    purpose bucket naming rules", https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
    3 to 63 lowercase letters, digits, dots and hyphens, a letter or digit at each end, no two adjacent
    dots, not an IP address, none of the reserved prefixes and suffixes; else `InvalidBucketName`."""
    target = S3Target.of(request)
    if request.method != "PUT" or not target.bucket or target.key or request.raw_query:
        return None
    name = target.bucket
    valid = (
        _BUCKET_NAME.match(name) is not None
        and ".." not in name
        and not _IP_ADDRESS.match(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
    if valid:
        return None
    return AwsError(
        "InvalidBucketName", "The specified bucket is not valid.", 400, details={"BucketName": name}
    )


def malformed_xml_error(request: AwsRequest) -> AwsError | None:
    """`MalformedXML` (400) for an XML request body that does not parse ("Error responses",
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList), rather than the
    parser's exception surfacing as a 500."""
    if not request.body.strip() or not _carries_xml(request):
        return None
    try:
        ElementTree.fromstring(request.body)
    except ElementTree.ParseError:
        return AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        )
    return None


def _carries_xml(request: AwsRequest) -> bool:
    target = S3Target.of(request)
    query = request.query
    if not target.key:
        return "policy" not in query
    if request.method == "POST" and "uploadId" in query:
        return True  # CompleteMultipartUpload
    return any(name in query for name in _XML_SUBRESOURCES)


def _etag_matches(condition: str, etag: str) -> bool:
    """Whether an If-Match style condition (ETags, quoted or not, comma-separated, or `*`) names `etag`."""
    wanted = {value.strip().strip('"') for value in condition.split(",")}
    return "*" in wanted or etag in wanted


def copy_source_error(request: AwsRequest, current_etag: Callable[[str, str], str | None]) -> AwsError | None:
    """CopyObject's `x-amz-copy-source-if-match` / `-if-none-match`: 412 PreconditionFailed when
    the source's current ETag (`current_etag(bucket, key)`, None when there is none) does not match
    ("CopyObject", https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""
    if_match = request.header("x-amz-copy-source-if-match")
    if_none_match = request.header("x-amz-copy-source-if-none-match")
    if not if_match and not if_none_match:
        return None
    source = unquote(request.header("x-amz-copy-source").split("?", 1)[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    etag = current_etag(bucket, key)
    if etag is None:
        return None  # moto answers NoSuchBucket / NoSuchKey
    failed = (if_match and not _etag_matches(if_match, etag)) or (
        if_none_match and _etag_matches(if_none_match, etag)
    )
    if not failed:
        return None
    return AwsError(
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412
    )
