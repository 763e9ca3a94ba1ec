"""Local S3 keeps its buckets and objects in the state directory: a new S3Service on the same
directory (a restart) serves what the old one acknowledged, with the same ETags and metadata.

Amazon S3 stores an object durably before it answers the PUT or copy ("Data protection in Amazon S3",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/DataDurability.html; PutObject, "never adds
partial objects", https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html), and a versioned
bucket keeps every version and delete marker ("Retaining multiple versions of objects with S3
Versioning", https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router
from rsetl.s3 import S3Service
from rsetl.s3.notifications import ObjectNotification

Served = Callable[[], AbstractContextManager[tuple[S3Service, Any]]]


@pytest.fixture
def published() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def serve(tmp_path: Path, published: list[dict[str, Any]]) -> Served:
    """Start a local S3 on the state directory (as `rsetl local up` does) and give a client."""

    @contextmanager
    def started() -> Iterator[tuple[S3Service, Any]]:
        service = S3Service(event_sink=published.extend, state_dir=tmp_path / "s3")
        service.create_bucket("landing", eventbridge=True)
        router = Router()
        router.register(service, fallback=True)
        with LocalServer(router) as server:
            client = boto3.client(
                "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip
            yield service, client

    return started


def test_objects_survive_a_restart_with_etag_bytes_and_metadata(serve: Served, published) -> None:
    with serve() as (_, client):
        put = client.put_object(
            Bucket="landing", Key="sales/2026/a b ü.csv", Body=b"x,y\n1,2\n", ContentType="text/csv",
            Metadata={"source": "pos"}, Tagging="team=etl",
        )  # fmt: skip
        before = client.head_object(Bucket="landing", Key="sales/2026/a b ü.csv")
    published.clear()
    with serve() as (_, client):
        got = client.get_object(Bucket="landing", Key="sales/2026/a b ü.csv")
        assert got["Body"].read() == b"x,y\n1,2\n"
        assert got["ETag"] == put["ETag"]
        assert got["ContentType"] == "text/csv"
        assert got["Metadata"] == {"source": "pos"}
        assert got["LastModified"] == before["LastModified"]
        tags = client.get_object_tagging(Bucket="landing", Key="sales/2026/a b ü.csv")["TagSet"]
        assert tags == [{"Key": "team", "Value": "etl"}]
        listed = client.list_objects_v2(Bucket="landing")["Contents"]
        assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [
            ("sales/2026/a b ü.csv", put["ETag"], 8)
        ]
    assert published == [], "objects loaded at start-up were not created again: no Object Created event"


def test_deletes_and_copies_survive_a_restart(serve: Served) -> None:
    with serve() as (_, client):
        client.put_object(Bucket="landing", Key="a.csv", Body=b"1")
        client.put_object(Bucket="landing", Key="b.csv", Body=b"2")
        client.copy_object(
            Bucket="landing", Key="copy/a.csv", CopySource={"Bucket": "landing", "Key": "a.csv"}
        )
        client.delete_object(Bucket="landing", Key="a.csv")
        client.delete_objects(Bucket="landing", Delete={"Objects": [{"Key": "b.csv"}]})
        client.put_object(Bucket="landing", Key="c.csv", Body=b"old")
        client.put_object(Bucket="landing", Key="c.csv", Body=b"new")
    with serve() as (_, client):
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="landing")["Contents"]]
        assert keys == ["c.csv", "copy/a.csv"]
        assert client.get_object(Bucket="landing", Key="copy/a.csv")["Body"].read() == b"1"
        assert client.get_object(Bucket="landing", Key="c.csv")["Body"].read() == b"new"


def test_blobs_of_replaced_and_deleted_objects_are_removed(serve: Served, tmp_path: Path) -> None:
    with serve() as (_, client):
        for body in (b"one", b"two", b"three"):
            client.put_object(Bucket="landing", Key="k.csv", Body=body)
        client.put_object(Bucket="landing", Key="gone.csv", Body=b"x")
        client.delete_object(Bucket="landing", Key="gone.csv")
    blobs = list((tmp_path / "s3" / "blobs" / "landing").iterdir())
    assert [blob.read_bytes() for blob in blobs] == [b"three"]


def test_multipart_upload_survives_a_restart(serve: Served) -> None:
    part_size = 5 * 1024 * 1024
    parts_bytes = [b"a" * part_size, b"b" * 1000]
    with serve() as (_, client):
        upload_id = client.create_multipart_upload(Bucket="landing", Key="big.csv", ContentType="text/csv")[
            "UploadId"
        ]
        parts = [
            {
                "PartNumber": n,
                "ETag": client.upload_part(
                    Bucket="landing", Key="big.csv", UploadId=upload_id, PartNumber=n, Body=body
                )["ETag"],
            }
            for n, body in enumerate(parts_bytes, start=1)
        ]
        done = client.complete_multipart_upload(
            Bucket="landing", Key="big.csv", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    with serve() as (_, client):
        got = client.get_object(Bucket="landing", Key="big.csv")
        assert got["ETag"] == done["ETag"] and done["ETag"].endswith('-2"')
        assert got["Body"].read() == b"".join(parts_bytes)
        assert got["ContentType"] == "text/csv"


def test_versions_and_delete_markers_survive_a_restart(serve: Served) -> None:
    with serve() as (_, client):
        client.create_bucket(Bucket="versioned")
        client.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
        first = client.put_object(Bucket="versioned", Key="k", Body=b"v1")["VersionId"]
        second = client.put_object(Bucket="versioned", Key="k", Body=b"v2")["VersionId"]
        marker = client.delete_object(Bucket="versioned", Key="k")["VersionId"]
    with serve() as (_, client):
        assert client.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
        listed = client.list_object_versions(Bucket="versioned")
        assert sorted(v["VersionId"] for v in listed["Versions"]) == sorted([first, second])
        assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker]
        with pytest.raises(ClientError) as missing:
            client.get_object(Bucket="versioned", Key="k")
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"
        assert client.get_object(Bucket="versioned", Key="k", VersionId=first)["Body"].read() == b"v1"
        client.delete_object(Bucket="versioned", Key="k", VersionId=marker)
        assert client.get_object(Bucket="versioned", Key="k")["Body"].read() == b"v2"


def test_a_deleted_bucket_stays_deleted(serve: Served, tmp_path: Path) -> None:
    with serve() as (_, client):
        client.create_bucket(Bucket="scratch")
        client.put_object(Bucket="scratch", Key="k", Body=b"1")
        client.delete_object(Bucket="scratch", Key="k")
        client.delete_bucket(Bucket="scratch")
    with serve() as (service, _):
        assert service.bucket_names() == ["landing"]
    assert not (tmp_path / "s3" / "buckets" / "scratch.json").exists()


def test_unload_writes_through_the_object_store_view(serve: Served, tmp_path: Path) -> None:
    with serve() as (service, _):
        service.put_object("landing", "unload/part_000", b"1|2\n")
    with serve() as (service, _):
        assert service.get_object("landing", "unload/part_000").body == b"1|2\n"


def test_a_blob_left_by_a_cut_short_write_is_removed_at_start(serve: Served, tmp_path: Path) -> None:
    with serve() as (_, client):
        client.put_object(Bucket="landing", Key="k", Body=b"kept")
    orphan = tmp_path / "s3" / "blobs" / "landing" / "0123456789abcdef"
    orphan.write_bytes(b"written before a crash, never named by a manifest")
    half_written = tmp_path / "s3" / "objects" / "landing" / ".tmp-cut-short"
    half_written.write_bytes(b'{"bucket": "landing", "ke')
    with serve() as (_, client):
        assert client.get_object(Bucket="landing", Key="k")["Body"].read() == b"kept"
        assert [o["Key"] for o in client.list_objects_v2(Bucket="landing")["Contents"]] == ["k"]
    assert not orphan.exists() and not half_written.exists()


def test_manifest_is_readable_json_naming_the_key(serve: Served, tmp_path: Path) -> None:
    with serve() as (_, client):
        client.put_object(Bucket="landing", Key="dir/k.csv", Body=b"1", Metadata={"a": "b"})
    (manifest,) = (tmp_path / "s3" / "objects" / "landing").glob("*.json")
    document = json.loads(manifest.read_text())
    assert document["key"] == "dir/k.csv"
    assert document["versions"][0]["metadata"]["x-amz-meta-a"] == "b"


def test_a_moto_reset_by_another_service_reloads_the_state_from_disk(serve: Served) -> None:
    """Every moto service that starts afresh resets all of moto (the local SQS does); S3's state,
    which is on disk, is loaded again rather than lost."""
    from moto.core.base_backend import BackendDict

    with serve() as (service, client):
        client.put_object(Bucket="landing", Key="k", Body=b"kept")
        BackendDict.reset()
        assert client.get_object(Bucket="landing", Key="k")["Body"].read() == b"kept"
        assert service.bucket_names() == ["landing"]


def test_a_multipart_upload_in_progress_survives_a_restart(serve: Served, tmp_path: Path) -> None:
    """An upload's parts are kept until it is completed or aborted ("Uploading and copying objects
    using multipart upload", https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html)."""
    first_part, last_part = b"p" * (5 * 1024 * 1024), b"tail"
    with serve() as (_, client):
        upload_id = client.create_multipart_upload(Bucket="landing", Key="mp.bin", Metadata={"m": "1"})[
            "UploadId"
        ]
        etag_one = client.upload_part(
            Bucket="landing", Key="mp.bin", UploadId=upload_id, PartNumber=1, Body=first_part
        )["ETag"]
        aborted = client.create_multipart_upload(Bucket="landing", Key="aborted.bin")["UploadId"]
        client.upload_part(Bucket="landing", Key="aborted.bin", UploadId=aborted, PartNumber=1, Body=b"x")
    with serve() as (_, client):
        uploads = client.list_multipart_uploads(Bucket="landing")["Uploads"]
        assert sorted((u["Key"], u["UploadId"]) for u in uploads) == sorted(
            [("mp.bin", upload_id), ("aborted.bin", aborted)]
        )
        client.abort_multipart_upload(Bucket="landing", Key="aborted.bin", UploadId=aborted)
        etag_two = client.upload_part(
            Bucket="landing", Key="mp.bin", UploadId=upload_id, PartNumber=2, Body=last_part
        )["ETag"]
        parts = [{"PartNumber": 1, "ETag": etag_one}, {"PartNumber": 2, "ETag": etag_two}]
        done = client.complete_multipart_upload(
            Bucket="landing", Key="mp.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    with serve() as (_, client):
        got = client.get_object(Bucket="landing", Key="mp.bin")
        assert (got["ETag"], got["Metadata"]) == (done["ETag"], {"m": "1"})
        assert got["Body"].read() == first_part + last_part
        assert client.list_multipart_uploads(Bucket="landing").get("Uploads", []) == []
    (blob,) = (tmp_path / "s3" / "blobs" / "landing").iterdir()
    assert blob.stat().st_size == len(first_part + last_part), "the parts' blobs went with the upload"


def test_a_multipart_object_keeps_its_parts_across_a_restart(serve: Served) -> None:
    """HeadObject with `partNumber` describes one part of a multipart object, and
    `x-amz-mp-parts-count` counts them (HeadObject, "partNumber",
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html)."""
    first, last = b"a" * (5 * 1024 * 1024), b"the last part"
    with serve() as (_, client):
        upload_id = client.create_multipart_upload(Bucket="landing", Key="parts.bin")["UploadId"]
        parts = [
            {
                "PartNumber": n,
                "ETag": client.upload_part(
                    Bucket="landing", Key="parts.bin", UploadId=upload_id, PartNumber=n, Body=body
                )["ETag"],
            }
            for n, body in ((1, first), (2, last))
        ]
        client.complete_multipart_upload(
            Bucket="landing", Key="parts.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        before = client.head_object(Bucket="landing", Key="parts.bin", PartNumber=2)
    assert (before["ContentLength"], before["PartsCount"]) == (len(last), 2)
    with serve() as (_, client):
        after = client.head_object(Bucket="landing", Key="parts.bin", PartNumber=2)
        assert (after["ContentLength"], after["PartsCount"], after["ETag"]) == (len(last), 2, before["ETag"])
        assert client.get_object(Bucket="landing", Key="parts.bin")["Body"].read() == first + last


def test_bucket_settings_survive_a_restart_and_a_deleted_setting_stays_deleted(serve: Served) -> None:
    """Policy, lifecycle, CORS, tags and default encryption are bucket subresources S3 keeps with the
    bucket ("Bucket configuration options",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingBucket.html#bucket-config-options-intro)."""
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::kept/x",
                }
            ],
        }
    )
    lifecycle = {
        "Rules": [
            {"ID": "expire-tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 7}}
        ]
    }
    cors = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.com"]}]}
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    with serve() as (_, client):
        client.create_bucket(Bucket="kept")
        client.put_bucket_policy(Bucket="kept", Policy=policy)
        client.put_bucket_lifecycle_configuration(Bucket="kept", LifecycleConfiguration=lifecycle)
        client.put_bucket_cors(Bucket="kept", CORSConfiguration=cors)
        client.put_bucket_tagging(Bucket="kept", Tagging={"TagSet": [{"Key": "team", "Value": "etl"}]})
        client.put_bucket_encryption(Bucket="kept", ServerSideEncryptionConfiguration=encryption)
        client.create_bucket(Bucket="cleared")
        client.put_bucket_tagging(Bucket="cleared", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        client.put_bucket_cors(Bucket="cleared", CORSConfiguration=cors)
        client.delete_bucket_tagging(Bucket="cleared")
        client.delete_bucket_cors(Bucket="cleared")
    with serve() as (_, client):
        assert json.loads(client.get_bucket_policy(Bucket="kept")["Policy"]) == json.loads(policy)
        (rule,) = client.get_bucket_lifecycle_configuration(Bucket="kept")["Rules"]
        assert (rule["ID"], rule["Expiration"], rule["Status"]) == ("expire-tmp", {"Days": 7}, "Enabled")
        (cors_rule,) = client.get_bucket_cors(Bucket="kept")["CORSRules"]
        assert cors_rule["AllowedOrigins"] == ["https://example.com"]
        assert client.get_bucket_tagging(Bucket="kept")["TagSet"] == [{"Key": "team", "Value": "etl"}]
        encrypted = client.get_bucket_encryption(Bucket="kept")["ServerSideEncryptionConfiguration"]
        assert encrypted["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        for missing in (client.get_bucket_tagging, client.get_bucket_cors, client.get_bucket_policy):
            with pytest.raises(ClientError):
                missing(Bucket="cleared")


# --- the outbox of notifications ---------------------------------------------------------------
# "Amazon S3 event notifications are designed to be delivered at least once" (Amazon S3 User Guide,
# "Amazon S3 Event Notifications", https://docs.aws.amazon.com/AmazonS3/latest/userguide/NotificationHowTo.html),
# and a durable-delivery service "will successfully attempt to deliver events to EventBridge at least
# once" ("Event delivery from AWS services",
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html): an
# object stored before a crash is notified after it, even when its event was not yet journaled.


def _killed_at_the_sink(service: S3Service, state: Path, snapshot: Path) -> list[dict[str, Any]]:
    """Make the sink copy the state directory when it is called, as a `kill -9` between the object's
    write and its event's journal entry leaves it; gives the entries the sink received."""
    received: list[dict[str, Any]] = []

    def sink(entries: list[dict[str, Any]]) -> None:
        if not snapshot.exists():
            shutil.copytree(state, snapshot)
        received.extend(entries)

    service.set_event_sink(sink)
    return received


def _restarted(state: Path, published: list[dict[str, Any]]) -> list[ObjectNotification]:
    """A new local S3 on `state`, through the start-up step that sends what is pending."""
    service = S3Service(event_sink=published.extend, state_dir=state)
    service.create_bucket("landing", eventbridge=True)
    return service.send_pending_notifications()


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(entry["Detail"]))


def test_an_object_stored_before_a_kill_at_its_event_is_notified_once_by_the_next_start(
    serve: Served, tmp_path: Path, published
) -> None:
    crashed = tmp_path / "crashed" / "s3"
    with serve() as (service, client):
        received = _killed_at_the_sink(service, tmp_path / "s3", crashed)
        put = client.put_object(Bucket="landing", Key="sales/kill.csv", Body=b"a,b\n1,2\n")
    (before,) = received
    (manifest,) = (crashed / "objects" / "landing").glob("*.json")
    assert [n["reason"] for n in json.loads(manifest.read_text())["pending_notifications"]] == ["PutObject"]

    sent = _restarted(crashed, published)
    assert [(n.key, n.reason) for n in sent] == [("sales/kill.csv", "PutObject")]
    (entry,) = published
    assert (entry["Source"], entry["DetailType"]) == ("aws.s3", "Object Created")
    detail = _detail(entry)
    assert detail["object"]["key"] == "sales/kill.csv"
    assert detail["object"]["etag"] == put["ETag"].strip('"') and detail["object"]["size"] == 8
    assert (detail["reason"], detail["request-id"]) == ("PutObject", _detail(before)["request-id"])
    assert "pending_notifications" not in json.loads(manifest.read_text()), "cleared once sent"

    published.clear()
    assert _restarted(crashed, published) == [] and published == [], "sent once: not again at a later start"


def test_a_notification_handed_to_the_sink_is_not_sent_again_after_a_restart(
    serve: Served, tmp_path: Path, published
) -> None:
    with serve() as (_, client):
        client.put_object(Bucket="landing", Key="sales/sent.csv", Body=b"1")
        client.copy_object(Bucket="landing", Key="sales/copied.csv", CopySource="landing/sales/sent.csv")
        client.delete_object(Bucket="landing", Key="sales/sent.csv")
    assert [_detail(e)["reason"] for e in published] == ["PutObject", "CopyObject", "DeleteObject"]
    for manifest in (tmp_path / "s3" / "objects" / "landing").glob("*.json"):
        assert "pending_notifications" not in json.loads(manifest.read_text())
    published.clear()
    assert _restarted(tmp_path / "s3", published) == [] and published == []


def test_a_delete_cut_short_before_its_event_is_notified_and_its_manifest_then_goes(
    serve: Served, tmp_path: Path, published
) -> None:
    crashed = tmp_path / "crashed" / "s3"
    with serve() as (service, client):
        client.put_object(Bucket="landing", Key="sales/gone.csv", Body=b"1")
        _killed_at_the_sink(service, tmp_path / "s3", crashed)
        client.delete_object(Bucket="landing", Key="sales/gone.csv")
    published.clear()
    assert [(n.key, n.reason) for n in _restarted(crashed, published)] == [("sales/gone.csv", "DeleteObject")]
    (entry,) = published
    assert entry["DetailType"] == "Object Deleted" and _detail(entry)["object"]["key"] == "sales/gone.csv"
    assert list((crashed / "objects" / "landing").glob("*.json")) == [], "no version and nothing pending"


def test_notifications_pending_when_the_sink_fails_are_each_sent_for_the_version_they_wrote(
    serve: Served, tmp_path: Path, published
) -> None:
    """PUTs of one key whose events could not be journaled (the sink raised: each answered 500, and
    botocore retried it once): each stays pending, and the next start sends each with the ETag and size
    of the version its PUT wrote, as S3 would have ("Using EventBridge",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html), not the key's current one."""
    refused: dict[str, tuple[str, int]] = {}

    def failing(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            detail = _detail(entry)
            refused[detail["request-id"]] = (detail["object"]["etag"], detail["object"]["size"])
        raise OSError("journal unavailable")

    written = {}
    with serve() as (service, client):
        service.set_event_sink(failing)
        for body in (b"first", b"second!"):
            with pytest.raises(ClientError, match="InternalServerException"):
                client.put_object(Bucket="landing", Key="sales/twice.csv", Body=body)
            etag = client.head_object(Bucket="landing", Key="sales/twice.csv")["ETag"].strip('"')
            written[etag] = len(body)
    sent = _restarted(tmp_path / "s3", published)
    assert len(refused) >= 2 and sorted(n.request_id for n in sent) == sorted(refused)
    assert {(_detail(e)["object"]["etag"], _detail(e)["object"]["size"]) for e in published} == set(
        written.items()
    )
    assert all(refused[_detail(e)["request-id"]] == (
        _detail(e)["object"]["etag"], _detail(e)["object"]["size"]) for e in published
    )  # fmt: skip


def test_a_pending_creation_of_a_key_deleted_since_is_cleared_without_an_event(
    serve: Served, tmp_path: Path, published
) -> None:
    """An "Object Created" is built from the key's current version; a key deleted since (its
    "Object Deleted" sent) has none, so the start sends nothing for it, rather than an event naming an
    object that is not there, and the manifest kept for the mark goes."""

    def failing(entries: list[dict[str, Any]]) -> None:
        raise OSError("journal unavailable")

    with serve() as (service, client):
        service.set_event_sink(failing)
        with pytest.raises(ClientError, match="InternalServerException"):
            client.put_object(Bucket="landing", Key="sales/replaced.csv", Body=b"1")
        service.set_event_sink(published.extend)
        client.delete_object(Bucket="landing", Key="sales/replaced.csv")
    assert [e["DetailType"] for e in published] == ["Object Deleted"]
    published.clear()
    assert _restarted(tmp_path / "s3", published) == [] and published == []
    assert list((tmp_path / "s3" / "objects" / "landing").glob("*.json")) == []


def test_concurrent_puts_of_a_versioned_key_each_report_the_version_they_wrote(
    serve: Served, published: list[dict[str, Any]]
) -> None:
    """Each "Object Created" names the version, ETag and size its own PUT wrote ("Using EventBridge",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html), even when another PUT of the
    key is stored between the first one's write and its event."""
    with serve() as (service, client):
        client.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
        other = boto3.client(
            "s3", endpoint_url=client.meta.endpoint_url, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test",
        )  # fmt: skip
        persistence = service._persistence
        assert persistence is not None
        flush, overtaking = persistence._flush, threading.Event()
        second: dict[str, Any] = {}

        def overtaken(mark: Any) -> None:
            if mark.key == "sales/v.csv" and not overtaking.is_set():
                overtaking.set()  # the second PUT's own flush goes straight on
                second.update(other.put_object(Bucket="landing", Key="sales/v.csv", Body=b"second, longer"))
            flush(mark)

        persistence._flush = overtaken  # type: ignore[method-assign]
        first = client.put_object(Bucket="landing", Key="sales/v.csv", Body=b"first")
    reported = [_detail(entry)["object"] for entry in published]
    assert [(o["version-id"], o["etag"], o["size"]) for o in reported] == [
        (second["VersionId"], second["ETag"].strip('"'), 14),
        (first["VersionId"], first["ETag"].strip('"'), 5),
    ]


def test_two_local_s3s_in_one_process_each_write_through_after_the_other_attached(tmp_path: Path) -> None:
    """moto's backends are process-wide and each local S3 resets them at start (as every moto service
    that starts afresh does): a second runtime's S3 attaches the backend the first one re-attaches next.
    Each must wrap moto's own methods, not the other's write-through, and keep writing its own state."""
    first = S3Service(state_dir=tmp_path / "first")
    first.create_bucket("landing")
    second = S3Service(state_dir=tmp_path / "second")
    second.create_bucket("landing")
    first.create_bucket("landing")
    first.put_object("landing", "a.csv", b"first's")
    assert S3Service(state_dir=tmp_path / "first").get_object("landing", "a.csv").body == b"first's"
