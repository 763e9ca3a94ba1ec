"""What start-up reports about resource types the local runtime does not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsetl.runtime.wiring import ACCEPTED_TYPES, EMULATED_TYPES, not_emulated, not_emulated_names
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
