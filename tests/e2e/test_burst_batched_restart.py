"""Sales uploads waiting in the SalesUploadsQueue when the runtime stops load after the next start.

An SQS message stays in its queue until a consumer deletes it or its retention period ends ("Amazon SQS
message lifecycle", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-lifecycle.html):
a restart of the local runtime must not lose what AWS would keep.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from bench.burst import BATCHED, burst_runtime, client, sales_file

pytestmark = pytest.mark.own_runtime

FILES = 6


def test_uploads_queued_before_a_stop_load_after_the_next_start() -> None:
    work = Path(tempfile.mkdtemp(prefix="rsetl-burst-restart-"))
    keys = [f"sales/2026/11/06/restart-{n}.csv" for n in range(FILES)]
    try:
        with burst_runtime(work, BATCHED) as first:
            for poller in first.queue_pollers:
                poller.stop()
            s3 = client(first, "s3")
            (bucket,) = first.template.of_type("AWS::S3::Bucket")
            for key in keys:
                s3.put_object(Bucket=bucket.ref, Key=key, Body=sales_file(key))
            queue = first.template.resources["SalesUploadsQueue"].arn
            deadline = time.monotonic() + 60  # the S3 events reach the queue through EventBridge
            while first.sqs.messages_left(queue) < FILES and time.monotonic() < deadline:
                time.sleep(0.05)
            assert first.sqs.messages_left(queue) == FILES
        with burst_runtime(work, BATCHED) as second:
            assert second.settle(600)
            assert second.postgres is not None
            with second.postgres.connect("dev") as conn:
                loaded = conn.execute(
                    "SELECT object_key FROM etl.load_ledger WHERE status = 'LOADED' ORDER BY object_key"
                ).fetchall()
            assert [key for (key,) in loaded] == keys
            assert second.sqs.messages_left(second.template.resources["SalesUploadsQueue"].arn) == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
