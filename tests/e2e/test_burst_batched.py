"""Batched sales loads (template parameter SalesLoads: BATCHED) on a burst with duplicates, a bad file
and a message that is no S3 event.

AWS behaviour the design rests on (docs/aws.md, "Batched sales loads"):
- "Handling errors for an SQS event source in Lambda", Implementing partial batch responses
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): only the messages
  the function names return to the queue; the queue's redrive policy moves a message received
  maxReceiveCount times to its dead-letter queue.
- Redshift Data API Reference, BatchExecuteStatement: at most 40 SQL statements, run as one
  transaction; Redshift "TRUNCATE": "commits the transaction in which it is run" (so the merge empties
  its temporary table with DELETE between two files).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.burst import BATCHED, burst_runtime, client, sales_file

from rsetl.runtime import LocalRuntime

pytestmark = pytest.mark.own_runtime

FILES = 45
DUPLICATES = 9
BAD = 0


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    """Not under pytest's tmp_path: the embedded PostgreSQL's user cannot enter it."""
    work = Path(tempfile.mkdtemp(prefix="rsetl-burst-batched-"))
    try:
        with burst_runtime(work, BATCHED) as local:
            yield local
    finally:
        shutil.rmtree(work, ignore_errors=True)


def key(n: int) -> str:
    return f"sales/2026/11/06/batched-{n:03d}.csv"


def rows(runtime: LocalRuntime, sql: str) -> list[tuple]:
    assert runtime.postgres is not None
    with runtime.postgres.connect("dev") as conn:
        return list(conn.execute(sql).fetchall())


@pytest.fixture(scope="module")
def burst(runtime: LocalRuntime) -> LocalRuntime:
    s3, sqs = client(runtime, "s3"), client(runtime, "sqs")
    queue = runtime.template.resources["SalesUploadsQueue"]
    runtime.events.dispatcher.faults.duplicate(str(queue.arn), times=DUPLICATES)
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    for n in range(FILES):
        s3.put_object(Bucket=bucket.ref, Key=key(n), Body=sales_file(key(n), bad=n == BAD))
    sqs.send_message(QueueUrl=queue.ref, MessageBody=json.dumps({"detail-type": "Object Created"}))
    assert runtime.settle(3600)
    return runtime


def test_every_good_file_loads_exactly_once_and_only_the_bad_file_is_quarantined(burst: LocalRuntime) -> None:
    ledger = rows(burst, "SELECT object_key, status, rows_loaded FROM etl.load_ledger ORDER BY object_key")
    assert [(k, s) for k, s, _ in ledger if s != "LOADED"] == [(key(BAD), "FAILED")]
    loaded = [k for k, s, _ in ledger if s == "LOADED"]
    assert sorted(loaded) == [key(n) for n in range(FILES) if n != BAD]
    assert {n for _, s, n in ledger if s == "LOADED"} == {3}
    ((lines, distinct),) = rows(
        burst, "SELECT count(*), count(DISTINCT (order_id, line_number)) FROM sales.fact_sales"
    )
    assert lines == distinct == 3 * (FILES - 1)
    objects = burst.s3.list_keys(str(burst.template.of_type("AWS::S3::Bucket")[0].ref), "quarantine/")
    assert objects == [f"quarantine/{key(BAD)}"]


def test_the_files_load_in_few_transactions_of_at_most_19_files(burst: LocalRuntime) -> None:
    runs = [
        e for e in burst.stepfunctions.executions.values() if e.input.get("pipeline") == "ingest_sales_batch"
    ]
    assert runs and max(len(e.input["files"]) for e in runs) == 19
    (loading_runs,) = rows(
        burst, "SELECT count(DISTINCT execution_name) FROM etl.load_ledger WHERE status = 'LOADED'"
    )[0]
    assert loading_runs <= FILES // 4, "a batch's files commit together"
    per_file = [
        e for e in burst.stepfunctions.executions.values() if e.input.get("pipeline") == "ingest_sales"
    ]
    assert [e.input["parameters"]["object_key"] for e in per_file if e.status == "FAILED"] == [key(BAD)], (
        "the failed batch was split until the bad file ran alone"
    )


def test_a_message_that_is_no_s3_event_ends_in_the_dead_letter_queue(burst: LocalRuntime) -> None:
    queue, dead = (
        burst.template.resources[name].arn for name in ("SalesUploadsQueue", "SalesUploadsDeadLetterQueue")
    )
    assert burst.sqs.messages_left(queue) == 0
    assert burst.sqs.visible_messages(dead) == [json.dumps({"detail-type": "Object Created"})]
