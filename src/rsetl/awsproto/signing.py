"""The Signature Version 4 computation, written from the SigV4 specification: the credential scope,
the canonical request, the string to sign and the signing key; the checks both forms of
authentication make of the scope and the signed headers, and the errors they answer with (S3's, or
the JSON services').
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest

MAX_SKEW = timedelta(minutes=15)
"""How far a request's time may be from the server's ("Handling dates in Signature Version 4")."""
ALGORITHM = "AWS4-HMAC-SHA256"
ISO_BASIC = "%Y%m%dT%H%M%SZ"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_S3_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


@dataclass(frozen=True)
class SignedIdentity:
    """What a valid signature proves: who signed, for which region and service."""

    access_key: str
    region: str
    service: str


@dataclass(frozen=True)
class Scope:
    """A credential scope: `<access key>/<date>/<region>/<service>/aws4_request`."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def text(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_scope(credential: str, s3: bool, query: bool = False) -> Scope:
    """The scope of a `Credential`, or the error of a malformed one."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        detail = f"the Credential '{credential}' is not <access key>/<date>/<region>/<service>/aws4_request"
        raise _credential_error(s3, query, detail, f"Credential scope is malformed: {detail}.")
    return Scope(*parts[:4])


def check_scope(scope: Scope, service: str | None, region: str | None, s3: bool, query: bool) -> None:
    """The scope must name the region and service of the endpoint that answers."""
    if region is not None and scope.region != region:
        raise _credential_error(
            s3,
            query,
            f"the region '{scope.region}' is wrong; expecting '{region}'",
            f"Credential should be scoped to a valid region, not '{scope.region}'.",
        )
    if service is not None and scope.service != service:
        raise _credential_error(
            s3,
            query,
            f"incorrect service '{scope.service}'. This endpoint belongs to '{service}'.",
            f"Credential should be scoped to correct service: '{service}'.",
        )


def _credential_error(s3: bool, query: bool, detail: str, message: str) -> AwsError:
    """A bad credential: in a presigned URL's query, in S3's header (`detail`), or another service's
    header (`message`)."""
    if query:
        return query_error(f"Error parsing the X-Amz-Credential parameter; {detail}")
    return malformed(s3, message, s3_detail=detail)


def check_signed_headers(
    request: AwsRequest, signed_headers: list[str], s3: bool, query: bool = False
) -> None:
    """`host` must be signed; for S3 every `x-amz-*` header sent must be signed too."""
    if "host" not in signed_headers:
        if query:
            raise query_error("Query-string authentication requires the host header to be signed")
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


def s3_or_json(s3: bool, s3_error: AwsError, json_error: AwsError) -> AwsError:
    """S3's error or the JSON services' one."""
    return s3_error if s3 else json_error


def malformed(s3: bool, message: str, s3_detail: str | None = None) -> AwsError:
    """The error of a malformed Authorization header."""
    if s3:
        return AwsError(
            "AuthorizationHeaderMalformed",
            f"The authorization header is malformed; {s3_detail or message}",
            400,
        )
    return AwsError("IncompleteSignatureException", message, 400)


def query_error(message: str) -> AwsError:
    """The error of bad query-string authentication parameters."""
    return AwsError("AuthorizationQueryParametersError", message, 400)


def unknown_key(access_key: str, s3: bool) -> AwsError:
    """The error of an access key the local endpoint does not know."""
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


def signature_mismatch(s3: bool, access_key: str, string_to_sign: str, canonical: str) -> AwsError:
    """The error of a signature that does not match (S3's names the string to sign, canonical request)."""
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


def canonical_request(
    request: AwsRequest,
    signed_headers: list[str],
    service: str,
    payload_hash: str,
    exclude_query: tuple[str, ...] = (),
) -> str:
    """The canonical request of `request` with `signed_headers`, less the `exclude_query` parameters."""
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


def string_to_sign_of(signed_at: datetime, scope: Scope, canonical: str) -> str:
    """The string to sign of a canonical request."""
    return "\n".join(
        [ALGORITHM, f"{signed_at:{ISO_BASIC}}", scope.text, hashlib.sha256(canonical.encode()).hexdigest()]
    )


def signing_key(secret: str, scope: Scope) -> bytes:
    """The key derived from `secret` for `scope`."""
    key = ("AWS4" + secret).encode()
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature_of(secret: str, scope: Scope, string_to_sign: str) -> str:
    """The hex signature of `string_to_sign`."""
    return hmac.new(signing_key(secret, scope), string_to_sign.encode(), hashlib.sha256).hexdigest()
