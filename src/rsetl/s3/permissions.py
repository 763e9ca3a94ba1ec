"""Which IAM actions an S3 REST request needs, on which resource ARNs, with which condition keys.

From the Amazon S3 User Guide, "Required permissions for Amazon S3 API operations"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html) and
the Service Authorization Reference for Amazon S3 (condition keys `s3:prefix`, `s3:delimiter`,
`s3:max-keys`): path-style requests only, as the local endpoint receives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from rsetl.awsproto import AwsRequest

_BUCKET_GET = {
    "versions": "s3:ListBucketVersions",
    "uploads": "s3:ListBucketMultipartUploads",
    "location": "s3:GetBucketLocation",
    "policy": "s3:GetBucketPolicy",
    "notification": "s3:GetBucketNotification",
    "tagging": "s3:GetBucketTagging",
    "acl": "s3:GetBucketAcl",
    "encryption": "s3:GetEncryptionConfiguration",
    "versioning": "s3:GetBucketVersioning",
    "ownershipControls": "s3:GetBucketOwnershipControls",
    "publicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "cors": "s3:GetBucketCORS",
}
_BUCKET_PUT = {
    "policy": "s3:PutBucketPolicy",
    "notification": "s3:PutBucketNotification",
    "tagging": "s3:PutBucketTagging",
    "acl": "s3:PutBucketAcl",
    "encryption": "s3:PutEncryptionConfiguration",
    "versioning": "s3:PutBucketVersioning",
    "ownershipControls": "s3:PutBucketOwnershipControls",
    "publicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "lifecycle": "s3:PutLifecycleConfiguration",
    "cors": "s3:PutBucketCORS",
}
_BUCKET_DELETE = {
    "policy": "s3:DeleteBucketPolicy",
    "tagging": "s3:PutBucketTagging",
    "encryption": "s3:PutEncryptionConfiguration",
    "ownershipControls": "s3:PutBucketOwnershipControls",
    "publicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "lifecycle": "s3:PutLifecycleConfiguration",
    "cors": "s3:PutBucketCORS",
}
_OBJECT_SUB = {
    ("GET", "tagging"): "s3:GetObjectTagging",
    ("PUT", "tagging"): "s3:PutObjectTagging",
    ("DELETE", "tagging"): "s3:DeleteObjectTagging",
    ("GET", "acl"): "s3:GetObjectAcl",
    ("PUT", "acl"): "s3:PutObjectAcl",
    ("GET", "uploadId"): "s3:ListMultipartUploadParts",
    ("DELETE", "uploadId"): "s3:AbortMultipartUpload",
    ("POST", "uploads"): "s3:PutObject",
    ("POST", "uploadId"): "s3:PutObject",
    ("PUT", "uploadId"): "s3:PutObject",
    ("GET", "attributes"): "s3:GetObject",
}


@dataclass(frozen=True)
class Permission:
    """One IAM action a request needs on one resource."""

    action: str
    resource: str
    keys: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class S3Target:
    """What a path-style request addresses."""

    bucket: str
    key: str

    @classmethod
    def of(cls, request: AwsRequest) -> S3Target:
        bucket, _, key = request.raw_path.lstrip("/").partition("/")
        return cls(unquote(bucket), unquote(key))

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    @property
    def object_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}"


def required_permissions(request: AwsRequest) -> list[Permission]:
    """Every permission the request needs (a copy needs read on its source as well)."""
    target = S3Target.of(request)
    query = request.query
    method = request.method
    if not target.bucket:
        return [Permission("s3:ListAllMyBuckets", "*")]
    if not target.key:
        return _bucket_permissions(method, query, target, request.body)
    for (verb, sub), action in _OBJECT_SUB.items():
        if verb == method and sub in query:
            needed = [Permission(action, target.object_arn)]
            return needed + _copy_source(request) if "partNumber" in query else needed
    versioned = "versionId" in query
    if method in ("GET", "HEAD"):
        return [Permission("s3:GetObjectVersion" if versioned else "s3:GetObject", target.object_arn)]
    if method == "PUT":
        return [Permission("s3:PutObject", target.object_arn), *_copy_source(request)]
    if method == "DELETE":
        return [Permission("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", target.object_arn)]
    return [Permission(f"s3:{method.title()}Object", target.object_arn)]


def _bucket_permissions(
    method: str, query: dict[str, list[str]], target: S3Target, body: bytes
) -> list[Permission]:
    arn = target.bucket_arn
    tables = {"GET": _BUCKET_GET, "PUT": _BUCKET_PUT, "DELETE": _BUCKET_DELETE}
    for sub, action in tables.get(method, {}).items():
        if sub in query:
            return [Permission(action, arn)]
    if method in ("GET", "HEAD"):
        keys = {
            f"s3:{name}": query[param][0]
            for name, param in (("prefix", "prefix"), ("delimiter", "delimiter"), ("max-keys", "max-keys"))
            if param in query
        }
        if method == "GET" and "prefix" not in query:
            keys["s3:prefix"] = ""
        return [Permission("s3:ListBucket", arn, keys)]
    if method == "PUT":
        return [Permission("s3:CreateBucket", arn)]
    if method == "DELETE":
        return [Permission("s3:DeleteBucket", arn)]
    if method == "POST" and "delete" in query:
        return [Permission("s3:DeleteObject", f"{arn}/{key}") for key in _deleted_keys(body)] or [
            Permission("s3:DeleteObject", f"{arn}/*")
        ]
    return [Permission(f"s3:{method.title()}Bucket", arn)]


def _copy_source(request: AwsRequest) -> list[Permission]:
    source = request.header("x-amz-copy-source")
    if not source:
        return []
    path, _, version = unquote(source).lstrip("/").partition("?versionId=")
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return [Permission(action, f"arn:aws:s3:::{path}")]


def _deleted_keys(body: bytes) -> list[str]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rpartition("}")[2] == "Key"]
