"""SigV4 as AWS checks it, on requests signed by botocore's own signers (SigV4Auth, S3SigV4Auth,
S3SigV4QueryAuth), against a verifier whose server time is fixed.

AWS documents the rules in: IAM User Guide, "Create a signed AWS API request" and "Elements of an
AWS API request signature" (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html);
"Handling dates in Signature Version 4" (https://docs.aws.amazon.com/general/latest/gr/sigv4-date-handling.html);
Amazon S3 API Reference, "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)"
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html),
"Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html) and "Error responses"
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
import urllib3
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from rsetl.awsproto import AwsError, AwsRequest, LocalServer, Router, SigV4Verifier
from rsetl.awsproto.sigv4 import parse_http_date
from rsetl.s3 import S3Service

NOW = dt.datetime(2026, 12, 1, 22, 30, 0, tzinfo=dt.UTC)
CREDENTIALS = Credentials("test", "test")
DATA_API_URL = "https://127.0.0.1:4566/"
DATA_API_HEADERS = {
    "X-Amz-Target": "RedshiftData.ListStatements",
    "Content-Type": "application/x-amz-json-1.1",
}
S3_URL = "https://127.0.0.1:4566/landing/sales/a.csv"


def _verifier() -> SigV4Verifier:
    return SigV4Verifier({"test": "test"}, now=lambda: NOW)


def _sign(
    monkeypatch: pytest.MonkeyPatch,
    signer: SigV4Auth,
    url: str,
    body: bytes = b"",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    at: dt.datetime = NOW,
    context: dict[str, Any] | None = None,
) -> AwsRequest:
    """`signer` signs the request at time `at`, as botocore signs it for the wire; the Host header
    is added as the HTTP client sends it."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: at.replace(tzinfo=None))
    request = AWSRequest(method, url, data=body, headers=dict(headers or {}))
    request.context.update(context or {})
    signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    message = Message()
    message["Host"] = parts.netloc
    for name, value in prepared.headers.items():
        message[name] = value
    return AwsRequest(method, parts.path, parts.query, message, body)


def _data_api(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> AwsRequest:
    signer = SigV4Auth(CREDENTIALS, kwargs.pop("service", "redshift-data"), kwargs.pop("region", "us-east-1"))
    return _sign(monkeypatch, signer, DATA_API_URL, b"{}", headers=DATA_API_HEADERS, **kwargs)


def _s3_put(monkeypatch: pytest.MonkeyPatch, body: bytes = b"a,b\n", **kwargs: Any) -> AwsRequest:
    signer = S3SigV4Auth(CREDENTIALS, "s3", kwargs.pop("region", "us-east-1"))
    return _sign(monkeypatch, signer, S3_URL, body, method="PUT", **kwargs)


def _refusal(verify: Callable[[], object]) -> AwsError:
    with pytest.raises(AwsError) as refused:
        verify()
    return refused.value


def test_requests_signed_now_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    identity = _verifier().verify(_data_api(monkeypatch), "redshift-data", "us-east-1")
    assert (identity.access_key, identity.region, identity.service) == ("test", "us-east-1", "redshift-data")
    assert _verifier().verify(_s3_put(monkeypatch), "s3", "us-east-1").service == "s3"


@pytest.mark.parametrize("minutes", [14, -14])
def test_a_request_within_15_minutes_of_the_server_time_is_accepted(
    monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    """ "Handling dates in Signature Version 4": the timestamp must be within 15 minutes of AWS's time."""
    request = _data_api(monkeypatch, at=NOW + dt.timedelta(minutes=minutes))
    assert _verifier().verify(request, "redshift-data", "us-east-1").access_key == "test"


def test_a_request_signed_16_minutes_ago_has_an_expired_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON services answer InvalidSignatureException "Signature expired: ... is now earlier than ..."
    ("Handling dates in Signature Version 4", as above), with a 400 as RequestExpired in
    "Common Errors", https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html."""
    request = _data_api(monkeypatch, at=NOW - dt.timedelta(minutes=16))

    error = _refusal(lambda: _verifier().verify(request, "redshift-data", "us-east-1"))

    assert (error.code, error.status) == ("InvalidSignatureException", 400)
    assert error.message == (
        "Signature expired: 20261201T221400Z is now earlier than 20261201T221500Z "
        "(20261201T223000Z - 15 min.)"
    )


def test_a_request_signed_16_minutes_ahead_is_not_yet_current(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _data_api(monkeypatch, at=NOW + dt.timedelta(minutes=16))

    error = _refusal(lambda: _verifier().verify(request, "redshift-data", "us-east-1"))

    assert error.message == (
        "Signature not yet current: 20261201T224600Z is still later than 20261201T224500Z "
        "(20261201T223000Z + 15 min.)"
    )


def test_s3_refuses_a_skewed_request_with_request_time_too_skewed(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 "Error responses": RequestTimeTooSkewed, 403, with the request's and the server's time."""
    request = _s3_put(monkeypatch, at=NOW - dt.timedelta(hours=2))

    error = _refusal(lambda: _verifier().verify(request, "s3", "us-east-1"))

    assert (error.code, error.status) == ("RequestTimeTooSkewed", 403)
    assert error.message == "The difference between the request time and the current time is too large."
    assert error.details == {
        "RequestTime": "20261201T203000Z",
        "ServerTime": "2026-12-01T22:30:00Z",
        "MaxAllowedSkewMilliseconds": "900000",
    }


class _DateHeaderAuth(SigV4Auth):
    """botocore's SigV4 signer, dating the request with a `Date` header in one form, no X-Amz-Date."""

    def __init__(self, form: str) -> None:
        super().__init__(CREDENTIALS, "redshift-data", "us-east-1")
        self.form = form

    def _set_necessary_date_headers(self, request: AWSRequest) -> None:
        stamp = dt.datetime.strptime(request.context["timestamp"], botocore.auth.SIGV4_TIMESTAMP)
        request.headers["Date"] = stamp.strftime(self.form)


@pytest.mark.parametrize(
    "form",
    [
        "%a, %d %b %Y %H:%M:%S GMT",  # RFC 1123: Tue, 01 Dec 2026 22:30:00 GMT
        "%A, %d-%b-%y %H:%M:%S GMT",  # RFC 850: Tuesday, 01-Dec-26 22:30:00 GMT
        "%a %b %d %H:%M:%S %Y",  # asctime: Tue Dec 01 22:30:00 2026
        "%a, %d %b %Y %H:%M:%S -0000",  # what botocore writes for a Date header
    ],
)
def test_the_date_header_dates_a_request_without_x_amz_date(
    monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """ "Handling dates in Signature Version 4": without X-Amz-Date, the Date header's time is signed;
    HTTP's Date takes RFC 1123, RFC 850 and asctime forms (RFC 7231, section 7.1.1.1)."""
    request = _sign(monkeypatch, _DateHeaderAuth(form), DATA_API_URL, b"{}", headers=DATA_API_HEADERS)
    assert not request.header("X-Amz-Date")

    assert _verifier().verify(request, "redshift-data", "us-east-1").access_key == "test"


def test_asctime_dates_may_pad_the_day_with_a_space() -> None:
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)
    assert parse_http_date("yesterday") is None


def test_a_request_with_no_usable_date_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _sign(
        monkeypatch, _DateHeaderAuth("%Y-%m-%d %H:%M"), DATA_API_URL, b"{}", headers=DATA_API_HEADERS
    )

    error = _refusal(lambda: _verifier().verify(request, "redshift-data", "us-east-1"))

    assert error.code == "IncompleteSignatureException"
    assert "either a 'X-Amz-Date' or a 'Date' header" in error.message


def test_s3_refuses_a_body_that_does_not_match_its_signed_sha256(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 "Error responses": XAmzContentSHA256Mismatch when x-amz-content-sha256 is not the body's."""
    request = _s3_put(monkeypatch, b"signed body")
    request.body = b"another body"

    error = _refusal(lambda: _verifier().verify(request, "s3", "us-east-1"))

    assert (error.code, error.status) == ("XAmzContentSHA256Mismatch", 400)
    assert error.details["ClientComputedContentSHA256"] == request.header("X-Amz-Content-SHA256")


def test_a_json_service_signs_the_body_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside S3 the payload hash is the body's, whatever a header claims: a changed body no longer
    matches the signature."""
    request = _data_api(monkeypatch)
    request.body = b'{"MaxResults": 1}'

    error = _refusal(lambda: _verifier().verify(request, "redshift-data", "us-east-1"))

    assert (error.code, error.status) == ("InvalidSignatureException", 403)


def test_unsigned_payload_is_accepted_by_s3_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 takes x-amz-content-sha256: UNSIGNED-PAYLOAD ("Authenticating Requests: Using the
    Authorization Header"); other services sign the payload's hash."""
    s3_config = Config(s3={"payload_signing_enabled": False})
    s3_request = _s3_put(monkeypatch, context={"client_config": s3_config})
    assert s3_request.header("X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
    assert _verifier().verify(s3_request, "s3", "us-east-1").service == "s3"

    json_request = _data_api(monkeypatch, context={"payload_signing_enabled": False})
    assert json_request.header("X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
    error = _refusal(lambda: _verifier().verify(json_request, "redshift-data", "us-east-1"))
    assert error.code == "InvalidSignatureException"


def test_s3_requires_the_payload_hash_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3: "x-amz-content-sha256 ... is required for all AWS Signature Version 4 requests"."""
    request = _sign(monkeypatch, SigV4Auth(CREDENTIALS, "s3", "us-east-1"), S3_URL, b"x", method="PUT")

    error = _refusal(lambda: _verifier().verify(request, "s3", "us-east-1"))

    assert (error.code, error.message) == (
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    )


def test_sigv4a_streaming_uploads_are_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """SigV4a's STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD (S3 API Reference, "Authenticating Requests:
    Using the Authorization Header", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html)
    is not served locally: S3's NotImplemented naming the header, rather than storing the framing."""
    request = _s3_put(monkeypatch)
    request.headers.replace_header("X-Amz-Content-SHA256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")

    error = _refusal(lambda: _verifier().verify(request, "s3", "us-east-1"))

    assert (error.code, error.status) == ("NotImplemented", 501)
    assert "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" in error.message


@pytest.mark.parametrize(
    ("make", "service", "code", "message"),
    [
        (
            lambda mp: _data_api(mp, region="eu-west-1"), "redshift-data", "IncompleteSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'.",
        ),
        (
            lambda mp: _data_api(mp, service="states"), "redshift-data", "IncompleteSignatureException",
            "Credential should be scoped to correct service: 'redshift-data'.",
        ),
        (
            lambda mp: _s3_put(mp, region="eu-west-1"), "s3", "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
        ),
    ],
)  # fmt: skip
def test_a_signature_scoped_to_another_region_or_service_is_refused(
    monkeypatch: pytest.MonkeyPatch, make: Any, service: str, code: str, message: str
) -> None:
    """The credential scope names the region and service that must serve the request
    ("Create a signed AWS API request", credential scope)."""
    request = make(monkeypatch)

    error = _refusal(lambda: _verifier().verify(request, service, "us-east-1"))

    assert (error.code, error.message) == (code, message)


class _HostlessAuth(SigV4Auth):
    """botocore's signer, leaving `host` out of the signed headers."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def test_a_signature_that_does_not_cover_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "Create a signed AWS API request": the host header must be among the signed headers."""
    signer = _HostlessAuth(CREDENTIALS, "redshift-data", "us-east-1")
    request = _sign(monkeypatch, signer, DATA_API_URL, b"{}", headers=DATA_API_HEADERS)
    assert "host" not in request.header("Authorization").split("SignedHeaders=")[1].split(",")[0]

    error = _refusal(lambda: _verifier().verify(request, "redshift-data", "us-east-1"))

    assert error.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def test_s3_names_its_codes_for_a_wrong_key_and_a_wrong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 "Error responses": InvalidAccessKeyId (403) and SignatureDoesNotMatch (403)."""
    unknown = _sign(monkeypatch, S3SigV4Auth(Credentials("nobody", "x"), "s3", "us-east-1"), S3_URL)
    error = _refusal(lambda: _verifier().verify(unknown, "s3", "us-east-1"))
    assert (error.code, error.status, error.details["AWSAccessKeyId"]) == (
        "InvalidAccessKeyId",
        403,
        "nobody",
    )

    wrong_secret = _sign(monkeypatch, S3SigV4Auth(Credentials("test", "wrong"), "s3", "us-east-1"), S3_URL)
    error = _refusal(lambda: _verifier().verify(wrong_secret, "s3", "us-east-1"))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)
    assert error.details["CanonicalRequest"].startswith("POST\n/landing/sales/a.csv\n")


def _presigned(monkeypatch: pytest.MonkeyPatch, expires: int = 3600, region: str = "us-east-1") -> AwsRequest:
    signer = S3SigV4QueryAuth(CREDENTIALS, "s3", region, expires=expires)
    return _sign(monkeypatch, signer, S3_URL, method="GET")


def test_a_presigned_url_is_accepted_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "Authenticating Requests: Using Query Parameters": X-Amz-Expires seconds from X-Amz-Date."""
    request = _presigned(monkeypatch, expires=600)
    assert not request.header("Authorization")

    assert (
        SigV4Verifier({"test": "test"}, now=lambda: NOW + dt.timedelta(seconds=600))
        .verify(request, "s3", "us-east-1")
        .access_key
        == "test"
    )
    late = SigV4Verifier({"test": "test"}, now=lambda: NOW + dt.timedelta(seconds=601))
    error = _refusal(lambda: late.verify(request, "s3", "us-east-1"))
    assert (error.code, error.message, error.status) == ("AccessDenied", "Request has expired", 403)
    assert error.details["Expires"] == "2026-12-01T22:40:00Z"


def test_a_tampered_presigned_url_does_not_match(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _presigned(monkeypatch)
    request.raw_path = "/landing/sales/b.csv"

    error = _refusal(lambda: _verifier().verify(request, "s3", "us-east-1"))

    assert error.code == "SignatureDoesNotMatch"


def test_presigned_urls_expire_within_a_week_and_name_the_served_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """X-Amz-Expires is at most 604800 seconds (seven days)."""
    too_long = _presigned(monkeypatch, expires=604801)
    error = _refusal(lambda: _verifier().verify(too_long, "s3", "us-east-1"))
    assert (error.code, error.message) == (
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    )
    elsewhere = _presigned(monkeypatch, region="eu-west-1")
    error = _refusal(lambda: _verifier().verify(elsewhere, "s3", "us-east-1"))
    assert "the region 'eu-west-1' is wrong; expecting 'us-east-1'" in error.message


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """S3 behind the router on a real port; its verifier runs on the wall clock."""
    service = S3Service()
    service.create_bucket("landing")
    router = Router(SigV4Verifier({"test": "test"}))
    router.register(service, fallback=True)
    with LocalServer(router) as server:
        yield server.url


def _s3(url: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, signature_version="s3v4"),
    )  # fmt: skip


def test_a_boto3_presigned_url_fetches_the_object(endpoint: str) -> None:
    client = _s3(endpoint)
    client.put_object(Bucket="landing", Key="presigned.csv", Body=b"x,y\n")
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "landing", "Key": "presigned.csv"}, ExpiresIn=300
    )

    fetched = urllib3.request("GET", url, retries=False)
    tampered = urllib3.request("GET", url.replace("presigned.csv", "other.csv"), retries=False)

    assert (fetched.status, fetched.data) == (200, b"x,y\n")
    assert tampered.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.data


def test_a_signature_version_2_presigned_url_is_refused_saying_so(endpoint: str) -> None:
    """Signature Version 2 is deprecated for S3 (S3 User Guide, "AWS Signature Version 2 turned off
    (deprecated) for Amazon S3", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html);
    the local endpoint serves Version 4 only."""
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(signature_version="s3"),
    )  # fmt: skip
    url = client.generate_presigned_url("get_object", Params={"Bucket": "landing", "Key": "k"})
    assert "AWSAccessKeyId=" in url

    refused = urllib3.request("GET", url, retries=False)

    assert refused.status == 403 and b"Signature Version 2" in refused.data


def test_a_boto3_client_with_a_skewed_clock_is_refused_by_the_wall_clock(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's time for signatures is the wall clock (clients sign with the real time)."""
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=30)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)

    with pytest.raises(ClientError) as refused:
        _s3(endpoint).list_objects_v2(Bucket="landing")

    assert refused.value.response["Error"]["Code"] == "RequestTimeTooSkewed"


def test_a_wrong_content_md5_is_bad_digest(endpoint: str) -> None:
    """S3 "Error responses": BadDigest, "The Content-MD5 you specified did not match what we received."""
    with pytest.raises(ClientError) as refused:
        _s3(endpoint).put_object(
            Bucket="landing", Key="md5.csv", Body=b"body", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="
        )

    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
    )
    with pytest.raises(ClientError) as missing:
        _s3(endpoint).head_object(Bucket="landing", Key="md5.csv")
    assert missing.value.response["Error"]["Code"] == "404"
