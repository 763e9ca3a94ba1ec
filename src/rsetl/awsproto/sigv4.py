"""Verification of AWS Signature Version 4 (header form), written from the SigV4 specification."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest

DEFAULT_CREDENTIALS: Mapping[str, str] = {"test": "test"}
"""The documented local credentials: access key id `test`, secret access key `test`."""

_ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


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


class SigV4Verifier:
    """Checks SigV4 signatures against a fixed set of local credentials."""

    def __init__(self, credentials: Mapping[str, str] = DEFAULT_CREDENTIALS) -> None:
        # Kept as given, not copied: a live mapping (the local IAM's sessions) may grow.
        self._credentials = credentials

    def verify(self, request: AwsRequest) -> SignedIdentity:
        """Return the signer's identity, or raise the AWS error for a missing or wrong signature."""
        authorization = request.header("Authorization")
        if not authorization:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        match = _AUTH_RE.match(authorization)
        if not match:
            raise AwsError(
                "IncompleteSignatureException",
                f"Authorization header requires '{_ALGORITHM}' with Credential, SignedHeaders and Signature.",
                400,
            )
        scope = match.group("credential").split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AwsError("IncompleteSignatureException", "Credential scope is malformed.", 400)
        access_key, date, region, service, _ = scope
        secret = self._credentials.get(access_key)
        if secret is None:
            raise AwsError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 400
            )
        amz_date = request.header("X-Amz-Date")
        if not amz_date.startswith(date):
            raise AwsError("IncompleteSignatureException", "X-Amz-Date does not match the credential date.")
        signed_headers = match.group("signed").split(";")
        canonical = _canonical_request(request, signed_headers, service)
        string_to_sign = "\n".join(
            [_ALGORITHM, amz_date, "/".join(scope[1:]), hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = _signing_key(secret, date, region, service)
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match.group("signature")):
            raise AwsError("InvalidSignatureException", _MISMATCH, 403)
        return SignedIdentity(access_key=access_key, region=region, service=service)


def _canonical_request(request: AwsRequest, signed_headers: list[str], service: str) -> str:
    # S3 signs the path as sent; every other service signs it URI-encoded once more.
    path = request.raw_path or "/"
    canonical_uri = path if service == "s3" else quote(path, safe="/~")
    pairs = sorted(
        (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
        for k, v in parse_qsl(request.raw_query, keep_blank_values=True)
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    header_lines = []
    for name in signed_headers:
        values = request.headers.get_all(name) or []
        joined = ",".join(" ".join(str(v).split()) for v in values)
        header_lines.append(f"{name}:{joined}\n")
    payload_hash = request.header("X-Amz-Content-SHA256") or hashlib.sha256(request.body).hexdigest()
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


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
