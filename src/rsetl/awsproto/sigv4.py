"""Verification of AWS Signature Version 4, written from the SigV4 specification.

Checked as AWS checks them: the signature, the credential scope's region and service against the
service that answers, `host` among the signed headers, the request time within 15 minutes of the
server's (the `X-Amz-Date` header, else `Date` in RFC 1123, RFC 850 or asctime form), and for S3 the
`X-Amz-Content-SHA256` payload hash (and aws-chunked bodies' chunk signatures, in
:mod:`rsetl.awsproto.s3_payload`) and presigned URLs (query-string authentication, with expiry, in
:mod:`rsetl.awsproto.presigned`). This module verifies the Authorization header; the computation
itself is :mod:`rsetl.awsproto.signing`.
S3 is answered with S3's error codes, the JSON services with theirs.

The server's time is the wall clock, also when the runtime runs on a virtual clock: clients sign
with the real time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from rsetl.awsproto import aws_chunked
from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest
from rsetl.awsproto.presigned import verify_presigned
from rsetl.awsproto.s3_payload import check_streaming_head, claimed_payload_hash, s3_body
from rsetl.awsproto.signing import (
    ALGORITHM,
    ISO_BASIC,
    MAX_SKEW,
    SignedIdentity,
    canonical_request,
    check_scope,
    check_signed_headers,
    malformed,
    parse_scope,
    s3_or_json,
    signature_mismatch,
    signing_key,
    string_to_sign_of,
    unknown_key,
)

DEFAULT_CREDENTIALS: Mapping[str, str] = {"test": "test"}
"""The documented local credentials: access key id `test`, secret access key `test`."""


_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_HTTP_DATE_FORMATS = (
    "%a, %d %b %Y %H:%M:%S GMT",  # RFC 1123 (IMF-fixdate)
    "%A, %d-%b-%y %H:%M:%S GMT",  # RFC 850
    "%a %b %d %H:%M:%S %Y",  # asctime
)

WallClock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The server's time: the wall clock, in UTC."""
    return datetime.now(UTC)


def credential_scope_service(request: AwsRequest) -> str | None:
    """The service name in the Authorization header's credential scope, without verifying anything."""
    match = _AUTH_RE.match(request.header("Authorization"))
    if not match:
        return None
    parts = match.group("credential").split("/")
    return parts[3] if len(parts) == 5 else None


@dataclass(frozen=True)
class PendingSignature:
    """A signature checked as far as the request's head allows."""

    identity: SignedIdentity
    """Who signed; to be trusted only once :meth:`complete` has returned."""
    _complete: Callable[[AwsRequest], AwsRequest]

    def complete(self, request: AwsRequest) -> AwsRequest:
        """Check `request`'s body (its hash, or its aws-chunked signatures and checksum); the request
        as the service should see it (an aws-chunked body decoded)."""
        return self._complete(request)


def _as_is(request: AwsRequest) -> AwsRequest:
    return request


class SigV4Verifier:
    """Checks SigV4 signatures against a set of local credentials (a live mapping may grow)."""

    def __init__(
        self, credentials: Mapping[str, str] = DEFAULT_CREDENTIALS, now: WallClock = wall_clock
    ) -> None:
        # Kept as given, not copied: a live mapping (the local IAM's sessions) may grow.
        self._credentials = credentials
        self._now = now

    def verify(
        self, request: AwsRequest, service: str | None = None, region: str | None = None
    ) -> SignedIdentity:
        """The signer's identity, or the AWS error of a missing or wrong signature (head and body)."""
        pending = self.verify_head(request, service, region)
        pending.complete(request)
        return pending.identity

    def verify_head(
        self, request: AwsRequest, service: str | None = None, region: str | None = None
    ) -> PendingSignature:
        """Everything the request's head proves, before its body is read; the body is checked by
        :meth:`PendingSignature.complete`.

        S3 signs the claimed payload hash (`x-amz-content-sha256`), so its signature is checked here and
        a bad one is refused before a large body is buffered; the JSON services sign the body's hash,
        so theirs is checked once the (small) body is in. `service` and `region` are those of the
        endpoint that answers: a signature scoped to others is refused. Without them the scope is
        taken as it is signed.
        """
        query_auth = "X-Amz-Algorithm" in _query_names(request)
        authorization = request.header("Authorization")
        s3 = service == "s3" or (service is None and _scope_service(request) == "s3")
        if query_auth and authorization:
            raise s3_or_json(
                s3,
                AwsError(
                    "InvalidArgument",
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                    "Signature query string parameter or the Authorization header should be specified",
                    400,
                ),
                AwsError("IncompleteSignatureException", "Only one auth mechanism allowed.", 400),
            )
        if query_auth:
            if not s3:
                raise AwsError(
                    "IncompleteSignatureException",
                    "Query-string authentication is served locally for S3 only; "
                    "sign the Authorization header.",
                    400,
                )
            return PendingSignature(verify_presigned(request, self._credentials, region, self._now()), _as_is)
        if s3 and not authorization and {"AWSAccessKeyId", "Signature"} <= _query_names(request):
            raise AwsError(
                "AccessDenied",
                "Signature Version 2 query-string authentication is not served locally; presign with "
                "Signature Version 4 (botocore: Config(signature_version='s3v4')).",
                403,
            )
        if not authorization:
            raise s3_or_json(
                s3,
                AwsError("AccessDenied", "Access Denied", 403),
                AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403),
            )
        match = _AUTH_RE.match(authorization)
        if not match:
            raise malformed(
                s3,
                f"Authorization header requires '{ALGORITHM}' with Credential, SignedHeaders and Signature.",
            )
        scope = parse_scope(match.group("credential"), s3)
        check_scope(scope, service, region, s3, query=False)
        key = signing_key(self._secret(scope.access_key, s3), scope)
        signed_headers = match.group("signed").split(";")
        check_signed_headers(request, signed_headers, s3)
        signed_at = _request_time(request, s3)
        if signed_at.strftime("%Y%m%d") != scope.date:
            raise malformed(
                s3,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope.date}' != '{signed_at:%Y%m%d}', from '{signed_at:{ISO_BASIC}}'.",
                s3_detail="Invalid credential date. Date is not the same as X-Amz-Date.",
            )
        _check_skew(signed_at, self._now(), s3)
        identity = SignedIdentity(access_key=scope.access_key, region=scope.region, service=scope.service)
        signature = match.group("signature")

        def check(payload_hash: str, signed: AwsRequest) -> None:
            canonical = canonical_request(signed, signed_headers, scope.service, payload_hash)
            string_to_sign = string_to_sign_of(signed_at, scope, canonical)
            expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, signature):
                raise signature_mismatch(s3, scope.access_key, string_to_sign, canonical)

        if not s3:

            def check_body_hash(full: AwsRequest) -> AwsRequest:
                check(hashlib.sha256(full.body).hexdigest(), full)
                return full

            return PendingSignature(identity, check_body_hash)
        claimed = claimed_payload_hash(request)
        trailers = check_streaming_head(request, claimed)
        check(claimed, request)
        signing = aws_chunked.ChunkSigning(key, f"{signed_at:{ISO_BASIC}}", scope.text, signature)
        return PendingSignature(identity, lambda full: s3_body(full, claimed, signing, trailers))

    def _secret(self, access_key: str, s3: bool) -> str:
        secret = self._credentials.get(access_key)
        if secret is None:
            raise unknown_key(access_key, s3)
        return secret


def _query_names(request: AwsRequest) -> set[str]:
    return {name for name, _ in parse_qsl(request.raw_query, keep_blank_values=True)}


def _scope_service(request: AwsRequest) -> str | None:
    service = credential_scope_service(request)
    if service is None:
        credential = dict(parse_qsl(request.raw_query)).get("X-Amz-Credential", "").split("/")
        service = credential[3] if len(credential) == 5 else None
    return service


def _request_time(request: AwsRequest, s3: bool) -> datetime:
    """`X-Amz-Date` (ISO 8601 basic), else the `Date` header in one of HTTP's three date forms."""
    amz_date = request.header("X-Amz-Date")
    if amz_date:
        try:
            return datetime.strptime(amz_date, ISO_BASIC).replace(tzinfo=UTC)
        except ValueError:
            pass
    else:
        parsed = parse_http_date(request.header("Date"))
        if parsed is not None:
            return parsed
    if s3:
        raise AwsError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403)
    raise AwsError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        400,
    )


def parse_http_date(text: str) -> datetime | None:
    """An HTTP `Date` value in RFC 1123, RFC 850 or asctime form (RFC 7231, 7.1.1.1), as UTC; else None.

    RFC 1123 dates may carry a numeric zone (`-0000`, as botocore writes them) instead of `GMT`.
    """
    text = text.strip()
    for form in _HTTP_DATE_FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S %z")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _check_skew(signed_at: datetime, now: datetime, s3: bool) -> None:
    if abs(signed_at - now) <= MAX_SKEW:
        return
    if s3:
        raise AwsError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            details={
                "RequestTime": f"{signed_at:{ISO_BASIC}}",
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000)),
            },
        )
    signed, server = f"{signed_at:{ISO_BASIC}}", f"{now:{ISO_BASIC}}"
    if signed_at < now:
        message = (
            f"Signature expired: {signed} is now earlier than {now - MAX_SKEW:{ISO_BASIC}} "
            f"({server} - 15 min.)"
        )
    else:
        message = (
            f"Signature not yet current: {signed} is still later than {now + MAX_SKEW:{ISO_BASIC}} "
            f"({server} + 15 min.)"
        )
    # A 400, as the family of RequestExpired in the services' "Common Errors" pages.
    raise AwsError("InvalidSignatureException", message, 400)
