"""Verification of AWS Signature Version 4, written from the SigV4 specification.

Checked as AWS checks them: the signature, the credential scope's region and service against the
service that answers, `host` among the signed headers, the request time within 15 minutes of the
server's (the `X-Amz-Date` header, else `Date` in RFC 1123, RFC 850 or asctime form), and for S3 the
`X-Amz-Content-SHA256` payload hash (and aws-chunked bodies' chunk signatures, in
:mod:`rsetl.awsproto.aws_chunked`) and presigned URLs (query-string authentication, with expiry).
S3 is answered with S3's error codes, the JSON services with theirs.

The server's time is the wall clock, also when the runtime runs on a virtual clock: clients sign
with the real time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import parse_qsl, quote, unquote

from rsetl.awsproto import aws_chunked
from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest

DEFAULT_CREDENTIALS: Mapping[str, str] = {"test": "test"}
"""The documented local credentials: access key id `test`, secret access key `test`."""

MAX_SKEW = timedelta(minutes=15)
"""How far a request's time may be from the server's ("Handling dates in Signature Version 4")."""
MAX_PRESIGNED_EXPIRES = 604800
"""The longest `X-Amz-Expires` S3 accepts: seven days, in seconds."""

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PREFIX = "STREAMING-"

_ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_ISO_BASIC = "%Y%m%dT%H%M%SZ"
_HTTP_DATE_FORMATS = (
    "%a, %d %b %Y %H:%M:%S GMT",  # RFC 1123 (IMF-fixdate)
    "%A, %d-%b-%y %H:%M:%S GMT",  # RFC 850
    "%a %b %d %H:%M:%S %Y",  # asctime
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_S3_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)

WallClock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedIdentity:
    """What a valid signature proves: who signed, for which region and service."""

    access_key: str
    region: str
    service: str


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


@dataclass(frozen=True)
class _Scope:
    access_key: str
    date: str
    region: str
    service: str

    @property
    def text(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


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
            raise _s3_or_json(
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
            raise _s3_or_json(
                s3,
                AwsError("AccessDenied", "Access Denied", 403),
                AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403),
            )
        match = _AUTH_RE.match(authorization)
        if not match:
            raise _malformed(
                s3,
                f"Authorization header requires '{_ALGORITHM}' with Credential, SignedHeaders and Signature.",
            )
        scope = _parse_scope(match.group("credential"), s3)
        _check_scope(scope, service, region, s3, query=False)
        key = _signing_key(self._secret(scope.access_key, s3), scope)
        signed_headers = match.group("signed").split(";")
        _check_signed_headers(request, signed_headers, s3)
        signed_at = _request_time(request, s3)
        if signed_at.strftime("%Y%m%d") != scope.date:
            raise _malformed(
                s3,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope.date}' != '{signed_at:%Y%m%d}', from '{signed_at:{_ISO_BASIC}}'.",
                s3_detail="Invalid credential date. Date is not the same as X-Amz-Date.",
            )
        _check_skew(signed_at, self._now(), s3)
        identity = SignedIdentity(access_key=scope.access_key, region=scope.region, service=scope.service)
        signature = match.group("signature")

        def check(payload_hash: str, signed: AwsRequest) -> None:
            canonical = _canonical_request(signed, signed_headers, scope.service, payload_hash)
            string_to_sign = _string_to_sign(signed_at, scope, canonical)
            expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, signature):
                raise _signature_mismatch(s3, scope.access_key, string_to_sign, canonical)

        if not s3:

            def check_body_hash(full: AwsRequest) -> AwsRequest:
                check(hashlib.sha256(full.body).hexdigest(), full)
                return full

            return PendingSignature(identity, check_body_hash)
        claimed = _claimed_payload_hash(request)
        trailers = _check_streaming_head(request, claimed)
        check(claimed, request)
        signing = aws_chunked.ChunkSigning(key, f"{signed_at:{_ISO_BASIC}}", scope.text, signature)
        return PendingSignature(identity, lambda full: _s3_body(full, claimed, signing, trailers))

    def _secret(self, access_key: str, s3: bool) -> str:
        secret = self._credentials.get(access_key)
        if secret is None:
            raise _unknown_key(access_key, s3)
        return secret


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
    if params.get("X-Amz-Algorithm") != _ALGORITHM:
        raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if missing:
        raise _query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    scope = _parse_scope(params["X-Amz-Credential"], s3=True, query=True)
    _check_scope(scope, "s3", region, s3=True, query=True)
    secret = credentials.get(scope.access_key)
    if secret is None:
        raise _unknown_key(scope.access_key, s3=True)
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], _ISO_BASIC).replace(tzinfo=UTC)
    except ValueError:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
    expires_text = params["X-Amz-Expires"]
    if not expires_text.lstrip("-").isdigit():
        raise _query_error("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires < 0:
        raise _query_error("X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGNED_EXPIRES:
        raise _query_error(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"
        )
    if signed_at.strftime("%Y%m%d") != scope.date:
        raise _query_error(
            "Error parsing the X-Amz-Credential parameter; the date in the credential scope does not "
            "match X-Amz-Date"
        )
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    _check_signed_headers(request, signed_headers, s3=True, query=True)
    if signed_at - now > MAX_SKEW:
        raise AwsError("AccessDenied", "Request is not valid yet", 403)
    payload_hash = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    canonical = _canonical_request(
        request, signed_headers, "s3", payload_hash, exclude_query=("X-Amz-Signature",)
    )
    string_to_sign = _string_to_sign(signed_at, scope, canonical)
    expected = _signature(secret, scope, string_to_sign)
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        raise _signature_mismatch(True, scope.access_key, string_to_sign, canonical)
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


def _query_names(request: AwsRequest) -> set[str]:
    return {name for name, _ in parse_qsl(request.raw_query, keep_blank_values=True)}


def _scope_service(request: AwsRequest) -> str | None:
    service = credential_scope_service(request)
    if service is None:
        credential = dict(parse_qsl(request.raw_query)).get("X-Amz-Credential", "").split("/")
        service = credential[3] if len(credential) == 5 else None
    return service


def _s3_or_json(s3: bool, s3_error: AwsError, json_error: AwsError) -> AwsError:
    return s3_error if s3 else json_error


def _malformed(s3: bool, message: str, s3_detail: str | None = None) -> AwsError:
    if s3:
        return AwsError(
            "AuthorizationHeaderMalformed",
            f"The authorization header is malformed; {s3_detail or message}",
            400,
        )
    return AwsError("IncompleteSignatureException", message, 400)


def _query_error(message: str) -> AwsError:
    return AwsError("AuthorizationQueryParametersError", message, 400)


def _unknown_key(access_key: str, s3: bool) -> AwsError:
    if s3:
        return AwsError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            details={"AWSAccessKeyId": access_key},
        )
    return AwsError(
        "UnrecognizedClientException", "The security token included in the request is invalid.", 400
    )


def _signature_mismatch(s3: bool, access_key: str, string_to_sign: str, canonical: str) -> AwsError:
    if s3:
        return AwsError(
            "SignatureDoesNotMatch",
            _S3_MISMATCH,
            403,
            details={
                "AWSAccessKeyId": access_key,
                "StringToSign": string_to_sign,
                "CanonicalRequest": canonical,
            },
        )
    return AwsError("InvalidSignatureException", _MISMATCH, 403)


def _parse_scope(credential: str, s3: bool, query: bool = False) -> _Scope:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        message = f"the Credential '{credential}' is not <access key>/<date>/<region>/<service>/aws4_request"
        if query:
            raise _query_error(f"Error parsing the X-Amz-Credential parameter; {message}")
        raise _malformed(s3, f"Credential scope is malformed: {message}.", s3_detail=message)
    return _Scope(*parts[:4])


def _check_scope(scope: _Scope, service: str | None, region: str | None, s3: bool, query: bool) -> None:
    """The scope must name the region and service of the endpoint that answers."""
    if region is not None and scope.region != region:
        if query:
            raise _query_error(
                f"Error parsing the X-Amz-Credential parameter; the region '{scope.region}' is wrong; "
                f"expecting '{region}'"
            )
        raise _malformed(
            s3,
            f"Credential should be scoped to a valid region, not '{scope.region}'.",
            s3_detail=f"the region '{scope.region}' is wrong; expecting '{region}'",
        )
    if service is not None and scope.service != service:
        if query:
            raise _query_error(
                f"Error parsing the X-Amz-Credential parameter; incorrect service '{scope.service}'. "
                f"This endpoint belongs to '{service}'."
            )
        raise _malformed(
            s3,
            f"Credential should be scoped to correct service: '{service}'.",
            s3_detail=f"incorrect service '{scope.service}'. This endpoint belongs to '{service}'.",
        )


def _check_signed_headers(
    request: AwsRequest, signed_headers: list[str], s3: bool, query: bool = False
) -> None:
    """`host` must be signed; for S3 every `x-amz-*` header sent must be signed too."""
    if "host" not in signed_headers:
        if query:
            raise _query_error("Query-string authentication requires the host header to be signed")
        if s3:
            raise AwsError(
                "AccessDenied",
                "There were headers present in the request which were not signed",
                403,
                details={"HeadersNotSigned": "host"},
            )
        raise AwsError(
            "IncompleteSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            400,
        )
    if s3:
        unsigned = sorted(
            {name.lower() for name in request.headers.keys()}  # noqa: SIM118 (a Message, not a dict)
            - set(signed_headers)
        )
        unsigned = [name for name in unsigned if name.startswith("x-amz-")]
        if unsigned:
            raise AwsError(
                "AccessDenied",
                "There were headers present in the request which were not signed",
                403,
                details={"HeadersNotSigned": ", ".join(unsigned)},
            )


def _request_time(request: AwsRequest, s3: bool) -> datetime:
    """`X-Amz-Date` (ISO 8601 basic), else the `Date` header in one of HTTP's three date forms."""
    amz_date = request.header("X-Amz-Date")
    if amz_date:
        try:
            return datetime.strptime(amz_date, _ISO_BASIC).replace(tzinfo=UTC)
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
                "RequestTime": f"{signed_at:{_ISO_BASIC}}",
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000)),
            },
        )
    signed, server = f"{signed_at:{_ISO_BASIC}}", f"{now:{_ISO_BASIC}}"
    if signed_at < now:
        message = (
            f"Signature expired: {signed} is now earlier than {now - MAX_SKEW:{_ISO_BASIC}} "
            f"({server} - 15 min.)"
        )
    else:
        message = (
            f"Signature not yet current: {signed} is still later than {now + MAX_SKEW:{_ISO_BASIC}} "
            f"({server} + 15 min.)"
        )
    # A 400, as the family of RequestExpired in the services' "Common Errors" pages.
    raise AwsError("InvalidSignatureException", message, 400)


def _claimed_payload_hash(request: AwsRequest) -> str:
    """S3's `x-amz-content-sha256`: required, a SHA-256 in hex, `UNSIGNED-PAYLOAD` or a streaming form.

    The streaming forms served are :data:`aws_chunked.FORMS`; SigV4a's ECDSA forms are refused.
    """
    claimed = request.header("X-Amz-Content-SHA256")
    if not claimed:
        raise AwsError(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400
        )
    if claimed.startswith(STREAMING_PREFIX) and claimed not in aws_chunked.FORMS:
        raise AwsError(
            "NotImplemented",
            f"A header you provided implies functionality that is not implemented: x-amz-content-sha256 "
            f"{claimed} (the local endpoint serves {', '.join(aws_chunked.FORMS)})",
            501,
            details={"Header": "x-amz-content-sha256"},
        )
    if claimed not in aws_chunked.FORMS and claimed != UNSIGNED_PAYLOAD and not _SHA256_RE.match(claimed):
        raise AwsError(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid "
            "sha256 value.",
            400,
            details={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": claimed},
        )
    return claimed


def _check_streaming_head(request: AwsRequest, claimed: str) -> list[str]:
    """A streaming upload's headers ("For all requests, you must include the
    x-amz-decoded-content-length header"); returns the declared `x-amz-trailer` names."""
    if claimed not in aws_chunked.FORMS:
        return []
    decoded = request.header("x-amz-decoded-content-length")
    # isdigit() alone takes Unicode digits (a latin-1 "\xb2" is "²"), which int() then refuses.
    if not (decoded.isascii() and decoded.isdigit()):
        raise AwsError(
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
            411,
            details={"Header": "x-amz-decoded-content-length"},
        )
    return aws_chunked.check_declared_trailers(request.header("x-amz-trailer"), claimed)


def _s3_body(
    request: AwsRequest, claimed: str, signing: aws_chunked.ChunkSigning, trailers: list[str]
) -> AwsRequest:
    """The request with its body checked against the signed claim; an aws-chunked body decoded, the
    request then reads as a plain PUT of the object bytes (its trailing checksum as a header)."""
    if claimed not in aws_chunked.FORMS:
        _check_payload_hash(request, claimed)
        return request
    decoded = aws_chunked.decode(
        request.body, claimed, None if claimed == aws_chunked.UNSIGNED_TRAILER else signing, trailers
    )
    if len(decoded.payload) != int(request.header("x-amz-decoded-content-length")):
        raise AwsError(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the x-amz-decoded-content-length header.",
            400,
        )
    headers = Message()
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered in (
            "content-length",
            "x-amz-decoded-content-length",
            "x-amz-trailer",
            "x-amz-content-sha256",
        ):
            continue
        if lowered == "content-encoding":
            codings = [c.strip() for c in str(value).split(",") if c.strip().lower() != "aws-chunked"]
            if codings:
                headers["Content-Encoding"] = ", ".join(codings)
            continue
        headers[name] = value
    headers["Content-Length"] = str(len(decoded.payload))
    headers["x-amz-content-sha256"] = hashlib.sha256(decoded.payload).hexdigest()
    for name, value in decoded.trailers.items():
        headers[name] = value
    return replace(request, headers=headers, body=decoded.payload)


def _check_payload_hash(request: AwsRequest, claimed: str) -> None:
    if claimed == UNSIGNED_PAYLOAD:
        return
    computed = hashlib.sha256(request.body).hexdigest()
    if computed != claimed:
        raise AwsError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
            details={"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": computed},
        )


def _canonical_request(
    request: AwsRequest,
    signed_headers: list[str],
    service: str,
    payload_hash: str,
    exclude_query: tuple[str, ...] = (),
) -> str:
    # S3 signs the path as sent; every other service signs it URI-encoded once more.
    path = request.raw_path or "/"
    canonical_uri = path if service == "s3" else quote(path, safe="/~")
    pairs = sorted(
        (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
        for k, v in parse_qsl(request.raw_query, keep_blank_values=True)
        if k not in exclude_query
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    header_lines = []
    for name in signed_headers:
        values = request.headers.get_all(name) or []
        joined = ",".join(" ".join(str(v).split()) for v in values)
        header_lines.append(f"{name}:{joined}\n")
    return "\n".join(
        [
            request.method,
            canonical_uri,
            canonical_query,
            "".join(header_lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def _string_to_sign(signed_at: datetime, scope: _Scope, canonical: str) -> str:
    return "\n".join(
        [_ALGORITHM, f"{signed_at:{_ISO_BASIC}}", scope.text, hashlib.sha256(canonical.encode()).hexdigest()]
    )


def _signing_key(secret: str, scope: _Scope) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _signature(secret: str, scope: _Scope, string_to_sign: str) -> str:
    return hmac.new(_signing_key(secret, scope), string_to_sign.encode(), hashlib.sha256).hexdigest()
