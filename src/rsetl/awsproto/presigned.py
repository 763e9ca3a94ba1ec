"""S3 presigned URLs: SigV4 query-string authentication, with expiry."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest
from rsetl.awsproto.s3_payload import UNSIGNED_PAYLOAD
from rsetl.awsproto.signing import (
    ALGORITHM,
    ISO_BASIC,
    MAX_SKEW,
    SignedIdentity,
    canonical_request,
    check_scope,
    check_signed_headers,
    parse_scope,
    query_error,
    signature_mismatch,
    signature_of,
    string_to_sign_of,
    unknown_key,
)

MAX_PRESIGNED_EXPIRES = 604800
"""The longest `X-Amz-Expires` S3 accepts: seven days, in seconds."""


def verify_presigned(
    request: AwsRequest, credentials: Mapping[str, str], region: str | None, now: datetime
) -> SignedIdentity:
    """An S3 presigned URL: `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`, `-SignedHeaders`,
    `-Signature` in the query; the payload is `UNSIGNED-PAYLOAD`; refused once expired."""
    params = dict(parse_qsl(request.raw_query, keep_blank_values=True))
    missing = [
        name
        for name in (
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
        if name not in params
    ]
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if missing:
        raise query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    scope = parse_scope(params["X-Amz-Credential"], s3=True, query=True)
    check_scope(scope, "s3", region, s3=True, query=True)
    secret = credentials.get(scope.access_key)
    if secret is None:
        raise unknown_key(scope.access_key, s3=True)
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], ISO_BASIC).replace(tzinfo=UTC)
    except ValueError:
        raise query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
    expires_text = params["X-Amz-Expires"]
    if not expires_text.lstrip("-").isdigit():
        raise query_error("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires < 0:
        raise query_error("X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGNED_EXPIRES:
        raise query_error(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"
        )
    if signed_at.strftime("%Y%m%d") != scope.date:
        raise query_error(
            "Error parsing the X-Amz-Credential parameter; the date in the credential scope does not "
            "match X-Amz-Date"
        )
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    check_signed_headers(request, signed_headers, s3=True, query=True)
    if signed_at - now > MAX_SKEW:
        raise AwsError("AccessDenied", "Request is not valid yet", 403)
    payload_hash = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    canonical = canonical_request(
        request, signed_headers, "s3", payload_hash, exclude_query=("X-Amz-Signature",)
    )
    string_to_sign = string_to_sign_of(signed_at, scope, canonical)
    expected = signature_of(secret, scope, string_to_sign)
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        raise signature_mismatch(True, scope.access_key, string_to_sign, canonical)
    expiry = signed_at + timedelta(seconds=expires)
    if now > expiry:
        raise AwsError(
            "AccessDenied",
            "Request has expired",
            403,
            details={
                "X-Amz-Expires": str(expires),
                "Expires": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    return SignedIdentity(access_key=scope.access_key, region=scope.region, service=scope.service)
