"""What start-up reports about resource types the local runtime does not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsetl.clock import VirtualClock
from rsetl.lambdas.event_source_mapping import InvalidParameterValue
from rsetl.lambdas.runtime import InvokeResult
from rsetl.runtime.wiring import (
    ACCEPTED_TYPES,
    EMULATED_TYPES,
    WiringReport,
    not_emulated,
    not_emulated_names,
    wire_event_source_mappings,
    wire_queues,
)
from rsetl.sqs import SqsService
from rsetl.template import LocalTemplate, load_template

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Landing:
    Type: AWS::S3::Bucket
  Alerts:
    Type: AWS::SNS::Topic
  Watermarks:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
  Runner:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
"""


@pytest.fixture
def template(tmp_path: Path) -> LocalTemplate:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return load_template(tmp_path / "template.yaml")


def test_not_emulated_lists_exactly_the_unknown_types(template: LocalTemplate) -> None:
    missing = {(r.logical_id, r.type) for r in not_emulated(template)}

    assert missing == {("Alerts", "AWS::SNS::Topic"), ("Watermarks", "AWS::DynamoDB::Table")}


def test_the_start_up_report_names_each_not_emulated_resource_and_its_type(template: LocalTemplate) -> None:
    assert sorted(not_emulated_names(template)) == [
        "Alerts (AWS::SNS::Topic)",
        "Watermarks (AWS::DynamoDB::Table)",
    ]


def test_the_project_template_uses_only_emulated_or_accepted_types() -> None:
    project = Path(__file__).resolve().parents[3]
    template = load_template(project / "template.yaml", config_env="local")

    assert not_emulated(template) == []
    assert {r.type for r in template.resources.values()} <= EMULATED_TYPES | ACCEPTED_TYPES


MAPPED_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Arrivals:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 180}
  StartBatch:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.lambda_handler
      CodeUri: fn/
      Timeout: 30
      Events:
        Batches:
          Type: SQS
          Properties:
            Queue: !GetAtt Arrivals.Arn
            BatchSize: 500
            MaximumBatchingWindowInSeconds: 20
            FunctionResponseTypes: [ReportBatchItemFailures]
"""


def mapped_template(tmp_path: Path, text: str = MAPPED_TEMPLATE) -> LocalTemplate:
    (tmp_path / "fn").mkdir()
    (tmp_path / "template.yaml").write_text(text)
    return load_template(tmp_path / "template.yaml")


class NoInvoker:
    def invoke(self, function_name_or_arn: str, payload: object) -> InvokeResult:
        raise AssertionError("wiring invokes nothing")


def test_sam_sqs_events_become_pollers_with_their_settings(tmp_path: Path) -> None:
    """SAM's `Events: Type: SQS` is an AWS::Lambda::EventSourceMapping ("SQS", AWS SAM event source
    types, https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-sqs.html)."""
    template = mapped_template(tmp_path)
    sqs = SqsService(template.account_id, template.region)
    wire_queues(template, sqs, WiringReport())
    asked: list[tuple[str, str, str]] = []

    def may_poll(role: str, function: str, queue: str) -> str | None:
        asked.append((role, function, queue))
        return None

    (poller,) = wire_event_source_mappings(
        template, sqs, NoInvoker(), VirtualClock(), may_poll, WiringReport()
    )
    (queue,) = template.of_type("AWS::SQS::Queue")
    (function,) = template.of_type("AWS::Lambda::Function")
    assert poller.mapping.queue_arn == queue.arn and poller.mapping.function_arn == function.arn
    assert (poller.mapping.batch_size, poller.mapping.batching_window_seconds) == (500, 20)
    assert poller.mapping.report_batch_item_failures
    assert asked == [(function.properties["Role"], function.ref, queue.arn)]


def test_a_mapping_lambda_would_refuse_stops_the_start_up(tmp_path: Path) -> None:
    """The function's timeout may not exceed the queue's visibility timeout ("Creating and configuring
    an Amazon SQS event source mapping", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html),
    and its role must be allowed to receive from the queue."""
    template = mapped_template(
        tmp_path, MAPPED_TEMPLATE.replace("VisibilityTimeout: 180", "VisibilityTimeout: 20")
    )
    sqs = SqsService(template.account_id, template.region)
    wire_queues(template, sqs, WiringReport())
    with pytest.raises(
        InvalidParameterValue, match="Queue visibility timeout: 20 seconds is less than Function"
    ):
        wire_event_source_mappings(
            template, sqs, NoInvoker(), VirtualClock(), lambda *_: None, WiringReport()
        )
    sqs = SqsService(template.account_id, template.region)
    (tmp_path / "template.yaml").write_text(MAPPED_TEMPLATE)
    template = load_template(tmp_path / "template.yaml")
    wire_queues(template, sqs, WiringReport())
    refusal = "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    with pytest.raises(RuntimeError, match=f"InvalidParameterValueException: {refusal}"):
        wire_event_source_mappings(
            template, sqs, NoInvoker(), VirtualClock(), lambda *_: refusal, WiringReport()
        )
