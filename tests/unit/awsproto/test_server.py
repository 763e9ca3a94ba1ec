"""The local endpoint's HTTP layer, spoken to over raw sockets: framing, limits, timeouts, refusals."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from rsetl.awsproto import JsonService, LocalServer, RequestContext, Router
from rsetl.awsproto.server import ServerLimits
from rsetl.s3 import S3Service

CREDENTIALS = Credentials("test", "test")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
QUICK = ServerLimits(header_timeout=0.5, body_timeout=0.5)


class EchoDataApi(JsonService):
    service_name = "redshift-data"

    def list_statements(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return {"Statements": []}


@pytest.fixture
def s3() -> S3Service:
    service = S3Service()
    service.create_bucket("landing")
    return service


@pytest.fixture
def server(s3: S3Service) -> Iterator[LocalServer]:
    router = Router()
    router.register(EchoDataApi())
    router.register(s3, fallback=True)
    with LocalServer(router, limits=QUICK) as running:
        yield running


class _Connection:
    """One raw client connection that reads responses one by one (keep-alive aware)."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._reader = self.socket.makefile("rb")

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self._reader.readline()
        assert status_line, "the server closed the connection without answering"
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self._reader.read(int(headers.get("content-length", "0")))
        return status, headers, body

    def closed_by_server(self) -> bool:
        return self._reader.read(1) == b""

    def close(self) -> None:
        self._reader.close()
        self.socket.close()


@pytest.fixture
def connect(server: LocalServer) -> Iterator[Any]:
    opened: list[_Connection] = []

    def open_one() -> _Connection:
        opened.append(_Connection(server.port))
        return opened[-1]

    yield open_one
    for connection in opened:
        connection.close()


class _ClaimedPayload(S3SigV4Auth):
    """botocore's S3 signer with the `x-amz-content-sha256` claim chosen by the test (a streaming form)."""

    def __init__(self, claim: str) -> None:
        super().__init__(CREDENTIALS, "s3", "us-east-1")
        self._claim = claim

    def payload(self, request: AWSRequest) -> str:
        return self._claim


def _signed_head(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    claim: str = "UNSIGNED-PAYLOAD",
    encoding: str = "utf-8",
) -> tuple[bytes, AWSRequest]:
    """The request line and headers botocore signs for S3, as raw bytes (and the signed request)."""
    request = AWSRequest(method, f"http://127.0.0.1:{port}{path}", headers=dict(headers))
    _ClaimedPayload(claim).add_auth(request)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(encoding), request


def _signed_json_post(port: int, body: bytes) -> bytes:
    """A Data API ListStatements POST carrying `body`, signed by botocore, as raw bytes."""
    request = AWSRequest(
        "POST", f"http://127.0.0.1:{port}/", data=body,
        headers={"X-Amz-Target": "RedshiftData.ListStatements", "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    SigV4Auth(CREDENTIALS, "redshift-data", "us-east-1").add_auth(request)
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _signing_key(date: str) -> bytes:
    key = b"AWS4test"
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _chunk_signature(request: AWSRequest, previous: str, data: bytes) -> str:
    """The chunk signature of "Signature Calculations for the Authorization Header: Transferring Payload
    in Multiple Chunks (Chunked Upload)" (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)."""
    timestamp = request.headers["X-Amz-Date"]
    scope = f"{timestamp[:8]}/us-east-1/s3/aws4_request"
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(_signing_key(timestamp[:8]), text.encode(), hashlib.sha256).hexdigest()


def _trailer_signature(request: AWSRequest, previous: str, trailer: bytes) -> str:
    """The trailer signature of "Signature calculations for trailing headers (chunked uploads)"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html)."""
    timestamp = request.headers["X-Amz-Date"]
    scope = f"{timestamp[:8]}/us-east-1/s3/aws4_request"
    text = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", timestamp, scope, previous, hashlib.sha256(trailer).hexdigest()]
    )
    return hmac.new(_signing_key(timestamp[:8]), text.encode(), hashlib.sha256).hexdigest()


def _seed_signature(request: AWSRequest) -> str:
    return str(request.headers["Authorization"]).rpartition("Signature=")[2]


def _signed_chunks(
    request: AWSRequest, pieces: list[bytes], trailer: bytes | None = None, tamper: bool = False
) -> bytes:
    """An aws-chunked body whose chunk signatures chain from the request's own signature."""
    body = b""
    previous = _seed_signature(request)
    for piece in [*pieces, b""]:
        signature = _chunk_signature(request, previous, piece)
        previous = signature
        if tamper and piece:
            signature = "0" * 64
        body += b"%x;chunk-signature=%s\r\n%s" % (len(piece), signature.encode(), piece)
        body += b"\r\n" if piece or trailer is None else b""
    if trailer is not None:
        # The trailer is signed in canonical form, each line ending in a bare LF.
        canonical = trailer.replace(b"\r\n", b"\n")
        body += (
            trailer + b"x-amz-trailer-signature:" + _trailer_signature(request, previous, canonical).encode()
        )
        body += b"\r\n\r\n"
    return body


def _stored(s3: S3Service, key: str) -> bytes:
    return s3.get_object("landing", key).body


def _get(port: int, key: str) -> bytes:
    head, _ = _signed_head(port, "GET", f"/landing/{key}", {})
    return head


def test_a_chunked_put_stores_its_bytes_and_the_next_request_on_the_connection_is_parsed(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """Transfer-Encoding: chunked (RFC 9112, 7.1) is decoded by the server: the object holds the data,
    not the framing, and the request after it on the same connection is answered as itself (the
    stdlib server stored an empty object and read the chunks as the next request)."""
    head, _ = _signed_head(server.port, "PUT", "/landing/chunked.csv", {"Transfer-Encoding": "chunked"})
    connection = connect()

    connection.send(head + b"4\r\na,b\n\r\n4\r\n1,2\n\r\n0\r\n\r\n" + _get(server.port, "chunked.csv"))

    assert connection.response()[0] == 200
    status, _, body = connection.response()
    assert (status, body) == (200, b"a,b\n1,2\n")
    assert _stored(s3, "chunked.csv") == b"a,b\n1,2\n"


def test_a_signed_aws_chunked_put_is_decoded_with_every_chunk_signature_checked(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
    botocore signs the head (the seed signature), each chunk's signature chains from it; S3 stores
    the decoded bytes (x-amz-decoded-content-length of them)."""
    pieces = [b"x" * 8192, b"y" * 100]
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "8292"}
    length = len(_signed_chunks(_signed_head(server.port, "PUT", "/landing/s.bin", headers,
                                             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")[1], pieces))  # fmt: skip
    head, request = _signed_head(
        server.port, "PUT", "/landing/s.bin", {**headers, "Content-Length": str(length)},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    )  # fmt: skip
    connection = connect()

    connection.send(head + _signed_chunks(request, pieces))

    assert connection.response()[0] == 200
    assert _stored(s3, "s.bin") == b"x" * 8192 + b"y" * 100


def test_an_aws_chunked_put_with_a_wrong_chunk_signature_is_refused_and_not_stored(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """A chunk whose signature does not chain is SignatureDoesNotMatch (403), and nothing is stored."""
    pieces = [b"x" * 8192]
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "8192"}
    head, request = _signed_head(
        server.port, "PUT", "/landing/bad.bin", headers, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    )
    body = _signed_chunks(request, pieces, tamper=True)
    head, request = _signed_head(
        server.port, "PUT", "/landing/bad.bin", {**headers, "Content-Length": str(len(body))},
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    )  # fmt: skip
    connection = connect()

    connection.send(head + _signed_chunks(request, pieces, tamper=True))

    status, _, answer = connection.response()
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in answer) == (403, True)
    assert "bad.bin" not in s3.list_keys("landing", "")


def test_a_signed_aws_chunked_put_with_a_signed_checksum_trailer_is_accepted(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html):
    the trailer chunk after the 0-byte chunk carries the CRC32 and its own signature."""
    data = b"z" * 9000
    trailer = b"x-amz-checksum-crc32:" + Crc32Checksum().handle(data).encode() + b"\r\n"
    headers = {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }  # fmt: skip
    claim = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    _, draft = _signed_head(server.port, "PUT", "/landing/t.bin", headers, claim)
    length = len(_signed_chunks(draft, [data], trailer))
    head, request = _signed_head(
        server.port, "PUT", "/landing/t.bin", {**headers, "Content-Length": str(length)}, claim
    )
    connection = connect()

    connection.send(head + _signed_chunks(request, [data], trailer))

    assert connection.response()[0] == 200
    assert _stored(s3, "t.bin") == data


def _unsigned_trailer_put(port: int, key: str, data: bytes, checksum: str | None = None) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER as botocore frames it (its AwsChunkedWrapper, used over HTTPS)."""
    body = AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32").read()
    if checksum is not None:
        body = (
            body.rpartition(b"x-amz-checksum-crc32:")[0]
            + b"x-amz-checksum-crc32:"
            + checksum.encode()
            + b"\r\n\r\n"
        )
    headers = {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body)),
    }  # fmt: skip
    head, _ = _signed_head(port, "PUT", f"/landing/{key}", headers, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    return head + body


def test_an_unsigned_aws_chunked_put_has_its_trailing_crc32_checked(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-trailer: x-amz-checksum-crc32 ("Checking object
    integrity", https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html):
    the right CRC32 stores the object; a wrong one is BadDigest and stores nothing."""
    connection = connect()
    connection.send(_unsigned_trailer_put(server.port, "u.csv", b"a,b\n" * 1000))
    assert connection.response()[0] == 200
    assert _stored(s3, "u.csv") == b"a,b\n" * 1000

    connection.send(_unsigned_trailer_put(server.port, "w.csv", b"a,b\n", checksum="AAAAAA=="))
    status, _, answer = connection.response()
    assert (status, b"<Code>BadDigest</Code>" in answer) == (400, True)
    assert "w.csv" not in s3.list_keys("landing", "")


@pytest.mark.parametrize(
    "declared", ["", "12x", "-1", "\u00b2"], ids=["empty", "not a number", "negative", "superscript two"]
)
def test_an_aws_chunked_put_whose_decoded_length_is_not_a_decimal_number_is_refused_411(
    server: LocalServer, connect: Any, s3: S3Service, declared: str
) -> None:
    """x-amz-decoded-content-length is the object's size in bytes, a decimal number ("Signature
    Calculations for the Authorization Header: Transferring Payload in Multiple Chunks (Chunked
    Upload)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html): a value that is
    not one, Unicode digits sent as latin-1 bytes included, is MissingContentLength, never a 500."""
    data = b"a,b\n"
    body = AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32").read()
    headers = {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": declared,
        "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body)),
    }  # fmt: skip
    head, _ = _signed_head(
        server.port, "PUT", "/landing/n.csv", headers, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "latin-1"
    )
    connection = connect()

    connection.send(head + body)

    status, _, answer = connection.response()
    assert (status, b"<Code>MissingContentLength</Code>" in answer) == (411, True)
    assert "n.csv" not in s3.list_keys("landing", "")


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: abc\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 4\r\nContent-Length: 5\r\n",
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["non-numeric", "negative", "twice", "with Transfer-Encoding"],
)
def test_a_bad_content_length_is_answered_400_and_the_connection_closed(
    server: LocalServer, connect: Any, framing: bytes
) -> None:
    """RFC 9112, 6.3: a Content-Length that is not one decimal number, or one beside Transfer-Encoding,
    leaves the message length unknown: 400 and close (request smuggling otherwise)."""
    connection = connect()
    connection.send(b"PUT /landing/x HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\nabcd")

    assert connection.response()[0] == 400
    assert connection.closed_by_server()
    assert server.refusals["bad Content-Length"] == 1


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: LocalServer, connect: Any) -> None:
    """S3's EntityTooLarge ("Error responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)
    comes back from the head alone: the client has not sent a byte of the 600 MiB body."""
    head, _ = _signed_head(server.port, "PUT", "/landing/big", {"Content-Length": str(600 * 1024 * 1024)})
    connection = connect()
    connection.send(head)

    status, headers, body = connection.response()
    assert (status, b"<Code>EntityTooLarge</Code>" in body, headers["connection"]) == (400, True, "close")


def _signed_chunked_put(port: int, key: str, pieces: list[bytes]) -> bytes:
    """A signed aws-chunked PUT of `pieces`, its Content-Length the framed length."""
    claim = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(sum(map(len, pieces)))}
    length = len(_signed_chunks(_signed_head(port, "PUT", f"/landing/{key}", headers, claim)[1], pieces))
    head, request = _signed_head(
        port, "PUT", f"/landing/{key}", {**headers, "Content-Length": str(length)}, claim
    )
    return head + _signed_chunks(request, pieces)


def test_an_aws_chunked_put_is_held_to_the_size_limit_by_its_object_size_not_its_framing(
    server: LocalServer, connect: Any, s3: S3Service
) -> None:
    """S3's size limit is the object's: "x-amz-decoded-content-length ... specifying the size of the
    object in bytes" ("Signature Calculations for the Authorization Header: Transferring Payload in
    Multiple Chunks (Chunked Upload)", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html),
    while Content-Length counts the chunk metadata too. An object just under the limit is stored
    though its framed body is over it; one just over is EntityTooLarge with its own size as
    ProposedSize ("Error responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    s3.max_request_body = 20_000
    fits = [b"a" * 8192, b"b" * 8192, b"c" * 3606]
    over = [b"a" * 8192, b"b" * 8192, b"c" * 3617]
    connection = connect()

    connection.send(_signed_chunked_put(server.port, "fits.bin", fits))
    assert connection.response()[0] == 200
    assert _stored(s3, "fits.bin") == b"".join(fits)

    connection.send(_signed_chunked_put(server.port, "over.bin", over))
    status, _, answer = connection.response()
    assert (status, b"<Code>EntityTooLarge</Code>" in answer) == (400, True)
    assert b"<ProposedSize>20001</ProposedSize>" in answer


def test_a_refused_json_body_is_discarded_and_the_connection_carries_on(
    server: LocalServer, connect: Any
) -> None:
    """A 7 MB body to a JSON service (6 MiB limit) is answered 413 SerializationException from its
    Content-Length; the body, still arriving, is discarded, so the client reads the answer (not a
    connection reset) and its next request on the connection is answered."""
    body = b'{"Sql": "' + b"a" * (7 * 1024 * 1024) + b'"}'
    connection = connect()
    connection.send(_signed_json_post(server.port, body) + _get(server.port, "none"))

    status, _, answer = connection.response()
    assert (status, json.loads(answer)["__type"]) == (413, "SerializationException")
    assert connection.response()[0] == 404


def test_a_bad_signature_is_refused_before_a_large_body_is_read(server: LocalServer, connect: Any) -> None:
    """S3 signs the payload's claimed hash in the head, so a wrong signature is answered before the
    body: an unauthenticated client cannot make the server buffer 100 MiB."""
    head, signed = _signed_head(
        server.port, "PUT", "/landing/big", {"Content-Length": str(100 * 1024 * 1024)}
    )
    connection = connect()
    signature = _seed_signature(signed)
    connection.send(head.replace(signature.encode(), signature[::-1].encode()))

    assert connection.response()[0] == 403
    assert server.refusals["refused by its head (signature, routing) before its body was read"] == 1


def test_a_silent_connection_is_closed_after_the_header_timeout(server: LocalServer, connect: Any) -> None:
    """No request line within the header timeout: the server closes (uvicorn alone would hold it)."""
    silent = connect()
    assert silent.closed_by_server()
    assert server.refusals["header timeout"] == 1


def test_a_slowloris_client_is_closed_after_the_header_timeout(server: LocalServer, connect: Any) -> None:
    """Headers trickled a byte at a time never complete: the timer runs from the request's first byte."""
    slow = connect()
    closed = threading.Event()

    def trickle() -> None:
        for byte in b"GET /landing HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            try:
                slow.send(bytes([byte]))
            except OSError:
                closed.set()
                return
            time.sleep(0.02)

    sender = threading.Thread(target=trickle)
    sender.start()
    assert slow.closed_by_server()
    sender.join()
    assert server.refusals["header timeout"] == 1


def test_headers_over_the_size_cap_are_refused(server: LocalServer, connect: Any) -> None:
    connection = connect()
    connection.send(b"GET /landing HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")

    assert connection.response()[0] == 400
    assert server.refusals["header section too large"] == 1


def test_connections_beyond_the_cap_are_answered_503(s3: S3Service) -> None:
    """uvicorn's limit_concurrency: with two connections open, a third one's request is shed with 503."""
    router = Router()
    router.register(s3, fallback=True)
    with LocalServer(router, limits=ServerLimits(max_connections=2)) as server:
        held = [_Connection(server.port) for _ in range(2)]
        for connection in held:
            connection.send(_get(server.port, "none"))
            assert connection.response()[0] == 404
        third = _Connection(server.port)
        third.send(_get(server.port, "none"))
        assert third.response()[0] == 503
        for connection in [*held, third]:
            connection.close()
        assert server.refusals["over the connection cap (503)"] == 1


def test_two_hundred_clients_connect_at_once_without_syn_retries(s3: S3Service) -> None:
    """The listen backlog holds 200 handshakes before the server accepts any (the stdlib server's
    backlog of 5 dropped SYNs, which clients retried after 1 to 3 s): each connect completes in
    less than the first SYN retry, then every client is answered."""
    router = Router()
    router.register(s3, fallback=True)
    server = LocalServer(router)
    clients = []
    try:
        for _ in range(200):
            client = socket.socket()
            client.settimeout(0.9)
            client.connect(("127.0.0.1", server.port))
            clients.append(client)
        server.start()
        for client in clients:
            client.settimeout(30)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert all(client.recv(12).startswith(b"HTTP/1.1 403") for client in clients)
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_deeply_nested_json_is_a_serialization_exception(server: LocalServer, connect: Any) -> None:
    """A JSON body too deep to parse is the client's fault: 400 SerializationException, not a 500."""
    body = b"[" * 100_000 + b"]" * 100_000
    connection = connect()
    connection.send(_signed_json_post(server.port, body))

    status, _, answer = connection.response()
    assert (status, json.loads(answer)["__type"]) == (400, "SerializationException")


def _s3_client(url: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def test_malformed_xml_is_malformed_xml(server: LocalServer) -> None:
    """S3's MalformedXML (400, "Error responses", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList)
    for a body that does not parse, where the parser's exception was a 500."""
    client = _s3_client(server.url)

    def broken(request: AWSRequest, **_: object) -> None:
        request.data = b"<Tagging><TagSet><Tag>"

    client.meta.events.register("before-sign.s3.PutBucketTagging", broken)
    with pytest.raises(ClientError) as refused:
        client.put_bucket_tagging(Bucket="landing", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert refused.value.response["Error"]["Code"] == "MalformedXML"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Upper", "under_score", "-start", "end-", "two..dots", "192.168.5.4", "xn--punycode",
     "sthree-x", "amzn-s3-demo-x", "x-s3alias", "x--ol-s3", "x.mrap", "x--table-s3"],
)  # fmt: skip
def test_a_bucket_name_against_the_naming_rules_is_invalid(server: LocalServer, name: str) -> None:
    """Amazon S3 User Guide, "General purpose bucket naming rules"
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): InvalidBucketName."""
    with pytest.raises(ClientError) as refused:
        _s3_client(server.url).create_bucket(Bucket=name)
    assert refused.value.response["Error"]["Code"] == "InvalidBucketName"


def test_a_bucket_name_within_the_rules_is_created(server: LocalServer, s3: S3Service) -> None:
    _s3_client(server.url).create_bucket(Bucket="my.bucket-2")
    assert "my.bucket-2" in s3.bucket_names()


def test_a_client_that_disconnects_mid_body_leaves_only_a_debug_line(
    server: LocalServer, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A client gone halfway through its body is counted and logged at debug: no traceback, no warning,
    and the server goes on serving."""
    caplog.set_level(logging.DEBUG)
    head, _ = _signed_head(server.port, "PUT", "/landing/half", {"Content-Length": "1000"})
    connection = connect()
    connection.send(head + b"x" * 10)
    connection.close()
    after = connect()
    after.send(_get(server.port, "none"))
    assert after.response()[0] == 404
    while not server.refusals["client disconnected mid-request"]:
        time.sleep(0.01)

    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


class _ThreadReportingS3(S3Service):
    """The local S3, noting which thread answered each request."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def handle(self, request: Any, context: RequestContext) -> Any:
        self.threads.append(threading.current_thread().name)
        return super().handle(request, context)


def test_a_request_answered_from_memory_runs_on_the_loop_and_one_that_writes_in_the_pool() -> None:
    """A small object's GET (S3Service.answers_at_once) is answered on the server's event loop, with
    no hop to a pool thread; the PUT that stored it, and a GET of an object over AT_ONCE_BYTES, run
    in the pool, where a slow write or read stalls no other connection."""
    from rsetl.s3.service import AT_ONCE_BYTES

    s3 = _ThreadReportingS3()
    s3.create_bucket("landing")
    router = Router()
    router.register(s3, fallback=True)
    with LocalServer(router) as server:
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
            endpoint_url=server.url, config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        client.put_object(Bucket="landing", Key="small", Body=b"a,b\n")
        client.put_object(Bucket="landing", Key="large", Body=b"x" * (AT_ONCE_BYTES + 1))
        assert client.get_object(Bucket="landing", Key="small")["Body"].read() == b"a,b\n"
        assert len(client.get_object(Bucket="landing", Key="large")["Body"].read()) == AT_ONCE_BYTES + 1

    put_small, put_large, get_small, get_large = s3.threads
    assert get_small == "rsetl-http"
    assert all(name.startswith("rsetl-request") for name in (put_small, put_large, get_large))


class _RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed_after: int | None = None

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed_after = len(self.writes)


def test_a_response_head_and_body_leave_in_one_write_even_when_the_connection_closes_after_it() -> None:
    """uvicorn writes a response's head at `http.response.start` and its body at `http.response.body`:
    held by the server's transport, they leave in one write (one segment, one client read), and a
    close that uvicorn makes right after the body (`Connection: close`) comes after that write."""
    import asyncio

    from rsetl.awsproto.http_protocol import CoalescingTransport, whole_responses

    raw = _RecordingTransport()
    transport = CoalescingTransport(raw)  # type: ignore[arg-type]

    async def uvicorn_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\n")
        else:
            transport.write(message["body"])
            transport.close()

    async def respond() -> None:
        send = whole_responses(uvicorn_send, transport)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert raw.writes == []
        await send({"type": "http.response.body", "body": b"a,b\n"})

    asyncio.run(respond())

    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\na,b\n"]
    assert raw.closed_after == 1
