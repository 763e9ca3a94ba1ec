"""S3 "Object Created" -> rule -> SQS queue -> event-source mapping -> function, on a small template.

Amazon EventBridge targets, Amazon SQS permissions (the queue's policy lets events.amazonaws.com send
for the rule): https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions
AWS SAM `SQS` event source (an AWS::Lambda::EventSourceMapping):
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-sqs.html
Execution role permissions of an SQS event-source mapping (sqs:ReceiveMessage, sqs:DeleteMessage,
sqs:GetQueueAttributes): https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from rsetl.clock import VirtualClock
from rsetl.runtime import LocalRuntime, RuntimeOptions

pytestmark = pytest.mark.own_runtime

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Landing:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        EventBridgeConfiguration: {EventBridgeEnabled: true}
  Arrivals:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Rejected.Arn, maxReceiveCount: 2}
  Rejected:
    Type: AWS::SQS::Queue
  ArrivalsPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Arrivals]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Arrivals.Arn
            Condition: {ArnEquals: {"aws:SourceArn": !GetAtt SOURCE_RULE.Arn}}
  ToArrivals:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        {source: [aws.s3], detail-type: [Object Created], detail: {object: {key: [{prefix: in/}]}}}
      Targets:
        - Arn: !GetAtt Arrivals.Arn
          Id: arrivals
          InputTransformer:
            InputPathsMap: {key: $.detail.object.key}
            InputTemplate: '{"key": <key>}'
  OtherRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [rsetl.nothing]}
      State: DISABLED
  BatchRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: poll-arrivals
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
                Resource: !GetAtt Arrivals.Arn
  TakeBatch:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.lambda_handler
      CodeUri: take_batch/
      Timeout: 30
      Role: !GetAtt BatchRole.Arn
      Events:
        Arrivals:
          Type: SQS
          Properties:
            Queue: !GetAtt Arrivals.Arn
            BatchSize: 100
            MaximumBatchingWindowInSeconds: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""

HANDLER = '''
import json


def lambda_handler(event, context):
    """Fails the records whose key names a bad file; the rest succeed."""
    failed = [r["messageId"] for r in event["Records"] if "bad" in json.loads(r["body"])["key"]]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
'''


def project(root: Path, source_rule: str) -> Path:
    (root / "take_batch").mkdir(parents=True)
    (root / "take_batch" / "app.py").write_text(HANDLER)
    (root / "take_batch" / "requirements.txt").write_text("")
    (root / "template.yaml").write_text(TEMPLATE.replace("SOURCE_RULE", source_rule))
    return root


def start(root: Path, source_rule: str) -> LocalRuntime:
    options = RuntimeOptions(
        project_dir=project(root / "project", source_rule), state_dir=root / "state", clock=VirtualClock(),
        apply_sql=False,
    )  # fmt: skip
    runtime = LocalRuntime(options)
    runtime.start()
    return runtime


@pytest.fixture
def work() -> Iterator[Path]:
    """Not under pytest's tmp_path: the embedded PostgreSQL's user cannot enter it."""
    root = Path(tempfile.mkdtemp(prefix="rsetl-queue-batches-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def runtime(work: Path) -> Iterator[LocalRuntime]:
    local = start(work, "ToArrivals")
    try:
        yield local
    finally:
        local.stop()


def upload(runtime: LocalRuntime, keys: list[str]) -> None:
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=runtime.url, region_name=runtime.template.region,
        aws_access_key_id=runtime.access_key, aws_secret_access_key=runtime.secret_key,
    )  # fmt: skip
    (bucket,) = runtime.template.of_type("AWS::S3::Bucket")
    for key in keys:
        s3.put_object(Bucket=bucket.ref, Key=key, Body=b"x")


def test_uploads_reach_the_function_in_batches_and_only_the_failed_record_is_redriven(
    runtime: LocalRuntime,
) -> None:
    keys = [f"in/file-{n:02d}.csv" for n in range(12)] + ["in/bad.csv"]
    upload(runtime, keys)
    arrivals, rejected = (runtime.template.resources[name].arn for name in ("Arrivals", "Rejected"))
    (poller,) = runtime.queue_pollers
    assert runtime.settle(120)
    assert len({m for outcome in poller.outcomes for m in outcome.deleted}) == 12
    assert len({m for outcome in poller.outcomes for m in outcome.returned}) == 1
    assert sum(len(outcome.returned) for outcome in poller.outcomes) == 2, (
        "received maxReceiveCount (2) times"
    )
    assert len(poller.outcomes) < len(keys), "the window gathers the uploads into fewer invocations"
    assert runtime.sqs.messages_left(arrivals) == 0
    assert runtime.sqs.visible_messages(rejected) == ['{"key": "in/bad.csv"}']


def test_a_queue_policy_for_another_rule_keeps_the_events_out(work: Path) -> None:
    local = start(work, "OtherRule")
    try:
        upload(local, ["in/file.csv"])
        assert local.settle(60)
        (poller,) = local.queue_pollers
        assert local.sqs.messages_left(local.template.resources["Arrivals"].arn) == 0
        assert poller.outcomes == []
    finally:
        local.stop()
