"""StartBatchLoads: start one RunPipeline load for a batch of sales uploads, and split a failed batch.

Two events reach it:
- an SQS batch from the SalesUploadsQueue (its event-source mapping gathers the S3 "Object Created"
  events the SalesUploadsRule sends there): the files, deduplicated, start one `ingest_sales_batch`
  run per `max_files` of them (a lone file starts `ingest_sales`, as a per-file upload would). A message
  that is no S3 event is reported as a batch item failure, so the queue's redrive policy moves it to
  the dead-letter queue after maxReceiveCount receives ("Handling errors for an SQS event source in
  Lambda", Implementing partial batch responses).
- the "Pipeline Failed" event of an `ingest_sales_batch` run: its files start again in two halves,
  so a bad file ends alone in an `ingest_sales` run, which quarantines it; the good files load.

Execution names derive from what a run loads (its files, sorted by bucket, key and etag, which also
decide the chunks) or from what started it (the failed run and the half): the same files start the same
names whatever messages carried them and however a redelivery grouped them, and a name already used
starts nothing new, since StartExecution refuses it (ExecutionAlreadyExists), and succeeds for a
running execution of the same name and input.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import load_spec
from etl_common.batches import max_files
from etl_common.clients import stepfunctions

logger = Logger()
metrics = Metrics()

BATCH_PIPELINE = "ingest_sales_batch"
FILE_PIPELINE = "ingest_sales"
NAME_HASH_CHARACTERS = 48
"""Of the SHA-256 in an execution name (names are at most 80 characters)."""

File = tuple[str, str, str]
"""(bucket, object_key, etag) of one uploaded object version."""


def uploaded_file(body: str) -> File:
    """The object version an S3 "Object Created" event (an SQS message's body) names; ValueError if none."""
    try:
        event = json.loads(body)
        detail = event["detail"]
        found = (detail["bucket"]["name"], detail["object"]["key"], detail["object"]["etag"])
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"not an S3 Object Created event ({type(error).__name__}: {error})") from None
    if event.get("detail-type") != "Object Created" or not all(isinstance(p, str) and p for p in found):
        raise ValueError("not an S3 Object Created event naming a bucket, key and etag")
    return found


def run_input(files: Sequence[File]) -> dict[str, Any]:
    """RunPipeline's input for files of one bucket: a batch load, or the per-file ingest for one file."""
    ((bucket, key, etag), *more) = files
    if not more:
        return {"pipeline": FILE_PIPELINE, "parameters": {"bucket": bucket, "object_key": key, "etag": etag}}
    return {
        "pipeline": BATCH_PIPELINE,
        "parameters": {"bucket": bucket},
        "files": [{"object_key": k, "etag": e} for _, k, e in files],
    }


def execution_name(prefix: str, *origin: str) -> str:
    digest = hashlib.sha256("\n".join(origin).encode()).hexdigest()
    return f"{prefix}-{digest[:NAME_HASH_CHARACTERS]}"


def start(client: Any, machine_arn: str, name: str, files: Sequence[File]) -> str:
    """Start the load of `files` as execution `name`; a name already used is that load, started before."""
    try:
        return str(
            client.start_execution(
                stateMachineArn=machine_arn, name=name, input=json.dumps(run_input(files))
            )["executionArn"]
        )
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("load already started", extra={"execution_name": name})
        return name


def start_batches(
    client: Any, machine_arn: str, records: Sequence[Mapping[str, Any]], most: int
) -> dict[str, Any]:
    """Start the loads of an SQS batch's files; the partial batch response: the records that are no S3
    event or whose run did not start."""
    failures: list[str] = []
    by_bucket: dict[str, dict[File, list[str]]] = {}
    for record in records:
        try:
            file = uploaded_file(str(record.get("body")))
        except ValueError as error:
            logger.error("message dropped", extra={"message_id": record["messageId"], "error": str(error)})
            failures.append(record["messageId"])
            continue
        by_bucket.setdefault(file[0], {}).setdefault(file, []).append(record["messageId"])
    started = 0
    for files in by_bucket.values():
        ordered = sorted(files)
        for first in range(0, len(ordered), most):
            chunk = ordered[first : first + most]
            message_ids = [m for file in chunk for m in files[file]]
            try:
                start(client, machine_arn, execution_name("sales-batch", json.dumps(chunk)), chunk)
                started += 1
            except Exception:
                logger.exception("start failed: the messages return to the queue")
                failures.extend(message_ids)
    metrics.add_metric(name="BatchLoadsStarted", unit=MetricUnit.Count, value=started)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


def split_failed_batch(client: Any, machine_arn: str, detail: Mapping[str, Any]) -> list[str]:
    """Start the files of a failed batch run again in two halves; the execution names started."""
    described = client.describe_execution(executionArn=detail["execution_arn"])
    failed = json.loads(described["input"])
    bucket = failed["parameters"]["bucket"]
    files = [(bucket, f["object_key"], f["etag"]) for f in failed["files"]]
    middle = len(files) // 2
    names = []
    # A batch of one (started by hand) has one half: its file alone, as `ingest_sales`.
    for half, part in (("first", files[:middle]), ("second", files[middle:])):
        if not part:
            continue
        name = execution_name("sales-split", str(detail["execution_name"]), half)
        start(client, machine_arn, name, part)
        names.append(name)
    metrics.add_metric(name="BatchesSplit", unit=MetricUnit.Count, value=1)
    logger.info("failed batch split", extra={"files": len(files), "executions": names})
    return names


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: an SQS batch of S3 events, or the "Pipeline Failed" event of a batch load."""
    machine_arn = os.environ["RUN_PIPELINE_STATE_MACHINE_ARN"]
    if "Records" in event:
        return start_batches(
            stepfunctions(), machine_arn, event["Records"], max_files(load_spec(BATCH_PIPELINE))
        )
    return {"started": split_failed_batch(stepfunctions(), machine_arn, event["detail"])}
