"""S3's signed payload: the `x-amz-content-sha256` claim, checked against the body once it is read,
or an aws-chunked body decoded with its chunk signatures (:mod:`rsetl.awsproto.aws_chunked`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from email.message import Message

from rsetl.awsproto import aws_chunked
from rsetl.awsproto.errors import AwsError
from rsetl.awsproto.messages import AwsRequest

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


STREAMING_PREFIX = "STREAMING-"


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def claimed_payload_hash(request: AwsRequest) -> str:
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


def check_streaming_head(request: AwsRequest, claimed: str) -> list[str]:
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


def s3_body(
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
