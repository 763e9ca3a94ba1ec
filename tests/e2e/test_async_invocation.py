"""EventBridge invokes the quarantine function asynchronously: Lambda's retries, then its OnFailure queue.

Lambda asynchronous invocation: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
Capturing records of Lambda asynchronous invocations:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rsetl.lambdas import LambdaFault

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E


def test_a_quarantine_failing_three_times_leaves_its_invocation_record_in_the_failure_queue(
    e2e: E2E, reference_data: dict[str, list[tuple[Any, ...]]]
) -> None:
    runtime = e2e.runtime
    (function,) = [
        f for f in runtime.template.of_type("AWS::Lambda::Function") if "Quarantine" in f.logical_id
    ]
    queue = runtime.template.resources["QuarantineFailureQueue"]
    store, sku = reference_data["stores"][2][0], reference_data["products"][2][0]
    key = "sales/2026/01/19/e2e_quarantine_down.csv"
    rows = [["E2EQD-1", 1, "2026-01-19 09:00:00", store, sku, "E2EQD-C1", "one", "4.00", "0.00", "USD"]]
    assert runtime.lambdas is not None
    runtime.lambdas.faults.fail_next(function.ref, LambdaFault.EXCEPTION, 3)

    e2e.upload(key, e2e.sales_csv(rows))

    assert runtime.lambdas.faults.pending(function.ref) == 0
    sqs = e2e.client("sqs")
    url = sqs.get_queue_url(QueueName=queue.attributes["QueueName"])["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{function.arn}:$LATEST"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["requestPayload"]["detail"]["parameters"]["object_key"] == key
    (delivery,) = [
        d for d in runtime.events.deliveries() if d.target_arn == function.arn and key in d.payload
    ]
    assert delivery.status == "TARGET_FAILED"
    assert delivery.invocation is not None
    assert delivery.invocation["status"] == "SENT_TO_DESTINATION"
    assert e2e.s3.list_objects_v2(Bucket=e2e.bucket, Prefix=key)["KeyCount"] == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_stopped_runs_status_change_event_invokes_the_statement_cleanup(e2e: E2E) -> None:
    """StopExecution runs no Catch; the "Step Functions Execution Status Change" event (ABORTED) on the
    default bus invokes CancelStatementFunction for the execution's still-running statements.

    Step Functions events in EventBridge:
    https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
    """
    runtime = e2e.runtime
    (function,) = [
        f for f in runtime.template.of_type("AWS::Lambda::Function") if "CancelStatement" in f.logical_id
    ]
    execution_arn = e2e.machine_arn.replace(":stateMachine:", ":execution:") + ":e2e-stopped-run"
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": e2e.machine_arn,
        "name": "e2e-stopped-run",
        "status": "ABORTED",
    }
    entry = {
        "Source": "aws.states",
        "DetailType": "Step Functions Execution Status Change",
        "Detail": json.dumps(detail),
        "Resources": [execution_arn],
    }
    invocations_before = runtime.lambdas.invocations[function.ref] if runtime.lambdas else 0

    runtime.events.publish([entry])
    e2e.settle()

    (delivery,) = [
        d
        for d in runtime.events.deliveries()
        if d.target_arn == function.arn and "e2e-stopped-run" in d.payload
    ]
    assert json.loads(delivery.payload) == {
        "running_of_execution": "e2e-stopped-run",
        "execution_name": "e2e-stopped-run",
    }
    assert delivery.status == "SUCCEEDED"
    assert delivery.invocation is not None and delivery.invocation["status"] == "SUCCEEDED"
    assert runtime.lambdas is not None and runtime.lambdas.invocations[function.ref] == invocations_before + 1
