"""The aws-chunked decoder held to S3's framing rules: chunk sizes and the trailer section."""

from __future__ import annotations

import base64
import zlib

import pytest

from rsetl.awsproto import AwsError
from rsetl.awsproto.aws_chunked import (
    SIGNED,
    SIGNED_TRAILER,
    UNSIGNED_TRAILER,
    ChunkSigning,
    decode,
    max_framed_length,
)

SIGNING = ChunkSigning(b"k" * 32, "20261202T000000Z", "20261202/us-east-1/s3/aws4_request", "a" * 64)
CRC32 = "x-amz-checksum-crc32"


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _signed(pieces: list[bytes], trailer: list[bytes] | None = None) -> bytes:
    """A signed body (chunk signatures chained from SIGNING's seed), with `trailer` lines signed
    and followed by their signature when given."""
    body = b""
    previous = SIGNING.seed_signature
    for piece in [*pieces, b""]:
        previous = SIGNING.chunk_signature(previous, piece)
        body += b"%x;chunk-signature=%s\r\n%s" % (len(piece), previous.encode(), piece)
        body += b"\r\n" if piece or trailer is None else b""
    if trailer is not None:
        canonical = b"".join(line + b"\n" for line in trailer)
        signature = SIGNING.trailer_signature(previous, canonical).encode()
        body += b"".join(line + b"\r\n" for line in trailer)
        body += b"x-amz-trailer-signature:" + signature + b"\r\n\r\n"
    return body


def _unsigned(pieces: list[bytes], trailer_lines: list[bytes]) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return body + b"0\r\n" + b"".join(line + b"\r\n" for line in trailer_lines) + b"\r\n"


def _refusal(body: bytes, form: str, declared: list[str]) -> AwsError:
    with pytest.raises(AwsError) as refused:
        decode(body, form, None if form == UNSIGNED_TRAILER else SIGNING, declared)
    return refused.value


@pytest.mark.parametrize("form", [SIGNED, UNSIGNED_TRAILER], ids=["signed", "unsigned trailer"])
def test_a_chunk_under_8_kb_before_another_with_data_is_invalid_chunk_size(form: str) -> None:
    """ "The chunk size must be at least 8 KB ... This chunk size applies to all chunks except the last
    one" ("Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks
    (Chunked Upload) (AWS Signature Version 4)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
    S3 answers `InvalidChunkSizeError`, "Only the last chunk is allowed to have a size less than 8192
    bytes", numbering the chunk whose header showed it (the one after the small one) and the bad size."""
    pieces = [b"a" * 8192, b"b" * 8191, b"c" * 10]
    data = b"".join(pieces)
    body = _signed(pieces) if form == SIGNED else _unsigned(pieces, [f"{CRC32}:{_crc32(data)}".encode()])

    error = _refusal(body, form, [] if form == SIGNED else [CRC32])

    assert (error.code, error.status) == ("InvalidChunkSizeError", 400)
    assert error.message == "Only the last chunk is allowed to have a size less than 8192 bytes"
    assert error.details == {"Chunk": "3", "BadChunkSize": "8191"}


def test_the_last_chunk_with_data_may_be_under_8_kb() -> None:
    """Same page: "The last chunk you send can be smaller than 8 KB", and so can a payload that fits
    in one chunk."""
    assert decode(_signed([b"a" * 8192, b"b" * 3]), SIGNED, SIGNING, []).payload == b"a" * 8192 + b"bbb"
    assert decode(_signed([b"tiny"]), SIGNED, SIGNING, []).payload == b"tiny"


@pytest.mark.parametrize(
    "lines",
    [
        [b"x-amz-checksum-crc32:AAAAAA==", b"x-amz-checksum-crc32:{crc}"],
        [b" x-amz-checksum-crc32:{crc}"],
        [b"\tx-amz-checksum-crc32:{crc}"],
    ],
    ids=["the checksum twice (the last one right)", "a leading space", "a leading tab"],
)
def test_a_trailer_section_not_in_the_published_form_is_malformed_trailer_error(lines: list[bytes]) -> None:
    """The trailer section is one line per header named in x-amz-trailer ("Signature calculations for
    trailing headers (chunked uploads)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html);
    a header repeated, or a line opening with whitespace (an obsolete line folding, refused by RFC 9112,
    section 5.2), is S3's `MalformedTrailerError` ("The request contained trailing data that was not
    well-formed or did not conform to our published schema."), not the last value winning."""
    data = b"a,b\n"
    body = _unsigned([data], [line.replace(b"{crc}", _crc32(data).encode()) for line in lines])

    error = _refusal(body, UNSIGNED_TRAILER, [CRC32])

    assert (error.code, error.status) == ("MalformedTrailerError", 400)


def test_the_trailer_signature_must_be_the_last_trailer_line() -> None:
    """In STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER the trailer chunk is the trailing headers, then
    `x-amz-trailer-signature` (same page): a checksum line after the signature is MalformedTrailerError,
    even when the signature covers it."""
    data = b"z" * 100
    checksum = f"{CRC32}:{_crc32(data)}".encode()
    valid = _signed([data], [checksum])
    decoded = decode(valid, SIGNED_TRAILER, SIGNING, [CRC32])
    assert decoded.trailers == {CRC32: _crc32(data)}
    signature_line = valid[valid.index(b"x-amz-trailer-signature:") :].split(b"\r\n")[0]
    reordered = valid[: valid.index(checksum)] + signature_line + b"\r\n" + checksum + b"\r\n\r\n"

    error = _refusal(reordered, SIGNED_TRAILER, [CRC32])

    assert (error.code, error.status) == ("MalformedTrailerError", 400)


def test_whitespace_around_the_colon_of_a_trailer_is_accepted() -> None:
    """Only a line's first character may not be whitespace: `name : value` is still one header."""
    data = b"a,b\n"
    body = _unsigned([data], [f"{CRC32} : {_crc32(data)}".encode()])

    assert decode(body, UNSIGNED_TRAILER, None, [CRC32]).payload == data


def test_the_framing_allowance_covers_the_largest_legal_framing() -> None:
    """A body of 8 KB chunks with full-width sizes and a trailer fits max_framed_length of its object."""
    data = b"q" * (3 * 8192 + 5)
    pieces = [data[i : i + 8192] for i in range(0, len(data), 8192)]
    trailer = [f"{CRC32}:{_crc32(data)}".encode()]
    body = _signed(pieces, trailer).replace(b"2000;", b"0000000000002000;")

    assert decode(body, SIGNED_TRAILER, SIGNING, [CRC32]).payload == data
    assert len(body) <= max_framed_length(len(data))
