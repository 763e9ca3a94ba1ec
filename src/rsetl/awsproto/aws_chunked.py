"""S3's `aws-chunked` request bodies: decoded, with each chunk's signature and the trailing checksum checked.

The framing and signatures are those of the S3 API Reference, "Signature Calculations for the
Authorization Header: Transferring Payload in Multiple Chunks (Chunked Upload)"
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html) and "Signature calculations for
trailing headers (chunked uploads)" (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html):

    <hex size>;chunk-signature=<signature>\\r\\n<data>\\r\\n ... 0;chunk-signature=<signature>\\r\\n
    [<trailer name>:<value>\\r\\n x-amz-trailer-signature:<signature>\\r\\n]\\r\\n

The unsigned form (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) carries no signatures. A chunk's string to
sign is `AWS4-HMAC-SHA256-PAYLOAD`, the request time, the scope, the previous signature (the request's
own for the first chunk), the SHA-256 of the empty string and the chunk data's SHA-256; the trailer's is
`AWS4-HMAC-SHA256-TRAILER`, time, scope, the last chunk's signature and the SHA-256 of the trailer lines.

"The chunk size must be at least 8 KB ... This chunk size applies to all chunks except the last one"
(the first page above): a smaller chunk followed by another with data is S3's `InvalidChunkSizeError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from rsetl.awsproto.errors import AwsError

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
FORMS = (SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER)
"""The streaming `x-amz-content-sha256` values served (SigV4a's ECDSA forms are not)."""

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{1,16}$")
_TRAILER_SIGNATURE = "x-amz-trailer-signature"
MIN_CHUNK_BYTES = 8192
"""S3's smallest chunk but the last one with data ("at least 8 KB"; its refusal says 8192 bytes)."""
_MAX_CHUNK_FRAMING = len(b"ffffffffffffffff;chunk-signature=") + 64 + 4
"""The most framing one chunk adds: its size in hex, its signature and two CRLFs."""
_MAX_TRAILER_BYTES = 16 * 1024
"""The trailer section's framing allowance (the same as the request headers' cap)."""


def max_framed_length(decoded_length: int) -> int:
    """The longest aws-chunked body that can carry `decoded_length` object bytes in chunks S3 takes
    (every chunk but the last with data at least MIN_CHUNK_BYTES, then the 0-byte chunk and a trailer)."""
    chunks = decoded_length // MIN_CHUNK_BYTES + 2
    return decoded_length + chunks * _MAX_CHUNK_FRAMING + _MAX_TRAILER_BYTES


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


CHECKSUMS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "x-amz-checksum-crc32": ("CRC32", _crc32),
    "x-amz-checksum-sha1": ("SHA1", lambda data: hashlib.sha1(data, usedforsecurity=False).digest()),
    "x-amz-checksum-sha256": ("SHA256", lambda data: hashlib.sha256(data).digest()),
}
"""Trailing checksums verified locally: header name -> (S3's algorithm name, digest)."""
_UNSERVED_CHECKSUMS = ("x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme")


@dataclass(frozen=True)
class ChunkSigning:
    """What checking chunk signatures needs: the request's signing key, time, scope and signature."""

    key: bytes
    timestamp: str
    scope: str
    seed_signature: str

    def chunk_signature(self, previous: str, data: bytes) -> str:
        text = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", self.timestamp, self.scope, previous, _EMPTY_SHA256,
             hashlib.sha256(data).hexdigest()]
        )  # fmt: skip
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def trailer_signature(self, previous: str, trailer: bytes) -> str:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                self.timestamp,
                self.scope,
                previous,
                hashlib.sha256(trailer).hexdigest(),
            ]
        )
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Decoded:
    """An aws-chunked body's object bytes and its trailing headers (name lower-cased -> value)."""

    payload: bytes
    trailers: dict[str, str]


def check_declared_trailers(declared: str, form: str) -> list[str]:
    """The `x-amz-trailer` names, refused unless the form carries a trailer of a checksum served here."""
    names = [name.strip().lower() for name in declared.split(",") if name.strip()]
    if form == SIGNED:
        if names:
            raise _invalid(f"x-amz-trailer is not allowed with x-amz-content-sha256 {SIGNED}")
        return names
    if not names:
        raise AwsError(
            "InvalidRequest", f"x-amz-content-sha256 {form} requires the x-amz-trailer header", 400
        )
    for name in names:
        if name in _UNSERVED_CHECKSUMS:
            raise AwsError(
                "NotImplemented",
                f"A header you provided implies functionality that is not implemented: x-amz-trailer {name} "
                f"(the local endpoint verifies {', '.join(CHECKSUMS)})",
                501,
                details={"Header": "x-amz-trailer"},
            )
        if name not in CHECKSUMS:
            raise _invalid(f"The value specified in the x-amz-trailer header is not supported: {name}")
    return names


def decode(body: bytes, form: str, signing: ChunkSigning | None, declared_trailers: list[str]) -> Decoded:
    """The object bytes of an aws-chunked `body`, every signature and the trailing checksum checked.

    `signing` is None only for the unsigned form.
    """
    payload = bytearray()
    previous = signing.seed_signature if signing is not None else ""
    position = 0
    previous_size = MIN_CHUNK_BYTES
    number = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise _incomplete()
        size, signature = _chunk_header(body[position:line_end], signed=form != UNSIGNED_TRAILER)
        number += 1
        if size and previous_size < MIN_CHUNK_BYTES:
            raise _chunk_too_small(number, previous_size)
        previous_size = size
        start = line_end + 2
        data = body[start : start + size]
        if len(data) < size:
            raise _incomplete()
        if signing is not None:
            expected = signing.chunk_signature(previous, data)
            if not hmac.compare_digest(expected, signature):
                raise _chunk_mismatch()
            previous = expected
        payload += data
        position = start + size
        if size == 0:
            break
        if body[position : position + 2] != b"\r\n":
            raise _malformed("a chunk's data is not followed by CRLF")
        position += 2
    if form == SIGNED:
        if body[position:] != b"\r\n":
            raise _malformed("the final chunk is not followed by CRLF and the end of the body")
        return Decoded(bytes(payload), {})
    trailers = _trailers(body[position:], form, signing, previous)
    _check_checksums(bytes(payload), trailers, declared_trailers)
    return Decoded(bytes(payload), trailers)


def _chunk_header(line: bytes, signed: bool) -> tuple[int, str]:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed("a chunk header is not ASCII") from None
    size_text, _, extension = text.partition(";")
    if not _HEX_RE.match(size_text):
        raise _malformed(f"the chunk size {size_text[:20]!r} is not hexadecimal")
    if not signed:
        if extension:
            raise _malformed("an unsigned chunk carries a signature")
        return int(size_text, 16), ""
    name, _, signature = extension.partition("=")
    if name != "chunk-signature" or not _SIGNATURE_RE.match(signature):
        raise _malformed("a chunk header lacks its chunk-signature")
    return int(size_text, 16), signature


def _trailers(tail: bytes, form: str, signing: ChunkSigning | None, previous: str) -> dict[str, str]:
    """The trailer lines after the final chunk, ending in an empty line; signed ones checked.

    Each trailing header once, the signature (of the signed form) last, no line opening with
    whitespace (an obsolete line folding, which RFC 9112 section 5.2 has a server refuse).
    """
    if not tail.endswith(b"\r\n\r\n") or tail.count(b"\r\n\r\n") != 1:
        raise _bad_trailer()
    lines = tail[:-4].split(b"\r\n")
    trailers: dict[str, str] = {}
    canonical = b""
    signature = ""
    for line in lines:
        name, colon, value = line.decode("ascii", errors="replace").partition(":")
        if not colon or name[:1].isspace() or signature:
            raise _bad_trailer()
        name = name.rstrip().lower()
        if name == _TRAILER_SIGNATURE:
            signature = value.strip()
            continue
        if name in trailers:
            raise _bad_trailer()
        trailers[name] = value.strip()
        canonical += f"{name}:{value.strip()}\n".encode()
    if form == SIGNED_TRAILER:
        assert signing is not None
        if not signature or not hmac.compare_digest(
            signing.trailer_signature(previous, canonical), signature
        ):
            raise _chunk_mismatch()
    elif signature:
        raise _bad_trailer()
    return trailers


def _check_checksums(payload: bytes, trailers: dict[str, str], declared: list[str]) -> None:
    if sorted(trailers) != sorted(declared):
        raise _bad_trailer()
    for name, claimed in trailers.items():
        algorithm, digest = CHECKSUMS[name]
        computed = base64.b64encode(digest(payload)).decode()
        if claimed != computed:
            raise AwsError(
                "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400
            )


def _incomplete() -> AwsError:
    return AwsError(
        "IncompleteBody", "The request body terminated unexpectedly (an aws-chunked chunk is cut short).", 400
    )


def _chunk_too_small(number: int, bad_size: int) -> AwsError:
    """S3's refusal; like S3 it numbers the chunk whose header showed the one before it was not the last."""
    return AwsError(
        "InvalidChunkSizeError",
        f"Only the last chunk is allowed to have a size less than {MIN_CHUNK_BYTES} bytes",
        400,
        details={"Chunk": str(number), "BadChunkSize": str(bad_size)},
    )


def _malformed(what: str) -> AwsError:
    return AwsError("InvalidRequest", f"The aws-chunked request body is malformed: {what}.", 400)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidRequest", message, 400)


def _bad_trailer() -> AwsError:
    return AwsError(
        "MalformedTrailerError",
        "The request contained trailing data that was not well-formed or did not conform to our published "
        "schema.",
        400,
    )


def _chunk_mismatch() -> AwsError:
    return AwsError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        403,
    )
