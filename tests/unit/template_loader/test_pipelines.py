"""Pipelines, their triggers and downstream links read from template.yaml alone; each rule's input
checked against the spec it starts."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rsetl.cli import main
from rsetl.cli.local import console
from rsetl.template import TemplateError
from rsetl.template.pipelines import WiringError, load_pipelines

PROJECT_DIR = Path(__file__).resolve().parents[3]

UPSTREAM_SPEC = """\
name: up
parameters:
  business_date: {type: date, required: true}
steps: []
"""
DOWNSTREAM_SPEC = """\
name: down
parameters:
  business_date: {type: date, required: true}
  region: {type: string}
steps: []
"""
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Specs:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: pipelines/}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Input: '{"pipeline": "up", "parameters": {"business_date": "2026-01-01"}}'
        DownAfterUp:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern:
              source: [rsetl.pipeline]
              detail-type: [Pipeline Succeeded]
              detail: {pipeline: [up], state: [SUCCEEDED]}
            InputTransformer:
              InputPathsMap: {d: $.detail.parameters.business_date}
              InputTemplate: '{"pipeline": "down", "parameters": {"business_date": <d>}}'
"""


INDIRECT_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Specs:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: pipelines/}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Input: '{"pipeline": "up", "parameters": {"business_date": "2026-01-01"}}'
  Batcher:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: batcher.asl.json
      DefinitionSubstitutions:
        RunArn: !Ref Machine
  Requester:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables: {BATCHER_ARN: !Ref Batcher, BUS: !Ref Bus}
      Events:
        DownAfterUp:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern:
              source: [rsetl.pipeline]
              detail-type: [Pipeline Succeeded]
              detail: {pipeline: [up], state: [SUCCEEDED]}
  Outer:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionSubstitutions: {BatcherArn: !GetAtt Batcher.Arn}
      Definition:
        StartAt: Each
        States:
          Each:
            Type: Map
            ItemProcessor:
              StartAt: Batch
              States:
                Batch:
                  Type: Task
                  Resource: arn:aws:states:::states:startExecution
                  Parameters: {StateMachineArn: "${BatcherArn}", Input: {"day.$": "$.day"}}
                  End: true
            End: true
  NightlyOuter:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(7 days)
      Targets:
        - {Id: outer, Arn: !GetAtt Outer.Arn}
"""
BATCHER_ASL = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Run"},
        "Run": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": "${RunArn}",
                "Input": {"pipeline": "down", "parameters": {"business_date.$": "$.day"}},
            },
            "End": True,
        },
    },
}


def _indirect_project(tmp_path: Path, template: str = INDIRECT_TEMPLATE, asl: object = BATCHER_ASL) -> Path:
    path = _project(tmp_path, template)
    (tmp_path / "batcher.asl.json").write_text(json.dumps(asl))
    return path


def _project(tmp_path: Path, template: str = TEMPLATE) -> Path:
    (tmp_path / "pipelines" / "specs").mkdir(parents=True)
    (tmp_path / "pipelines" / "specs" / "up.yaml").write_text(UPSTREAM_SPEC)
    (tmp_path / "pipelines" / "specs" / "down.yaml").write_text(DOWNSTREAM_SPEC)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(template))
    return tmp_path / "template.yaml"


def test_the_shipped_template_wires_every_pipeline() -> None:
    pipelines = load_pipelines(PROJECT_DIR / "template.yaml")
    nightly = pipelines["nightly_sales_snapshot"]
    (schedule,) = nightly.triggers
    assert (schedule.kind, schedule.schedule) == ("schedule", "cron(0 2 * * ? *)")
    assert nightly.downstream == ("load_customer_segments",)
    (segments,) = pipelines["load_customer_segments"].triggers
    assert segments.upstream == ("nightly_sales_snapshot",)
    assert segments.parameters == {"business_date": "$.detail.parameters.business_date"}
    (sales,) = pipelines["ingest_sales"].triggers
    assert (sales.kind, sales.prefixes) == ("s3", ("sales/",))
    assert sales.rule == "RunPipelineStateMachineIngestSalesOnUpload"
    ingests = ("ingest_sales", "ingest_sales_batch", "ingest_products", "ingest_stores")
    for ingest in ingests:
        assert pipelines[ingest].downstream == ("refresh_sales_views",), ingest
    assert {t.upstream for t in pipelines["refresh_sales_views"].triggers} == {ingests}
    (refresh,) = pipelines["refresh_sales_views"].triggers
    assert (refresh.kind, refresh.rule, refresh.parameters) == (
        "indirect",
        "RequestRefreshFunctionRefreshViewsAfterIngest",
        {},
    )
    assert refresh.via == ("RequestRefreshFunction", "RefreshViewsStateMachine")
    assert refresh.summary() == (
        "after ingest_sales, ingest_sales_batch, ingest_products, ingest_stores succeeded, "
        "through RequestRefreshFunction -> RefreshViewsStateMachine"
    )


def test_a_small_template_reads_triggers_and_links(tmp_path: Path) -> None:
    pipelines = load_pipelines(_project(tmp_path))
    (nightly,) = pipelines["up"].triggers
    assert (nightly.rule, nightly.kind, nightly.schedule) == ("MachineNightly", "schedule", "rate(1 day)")
    assert nightly.parameters == {"business_date": "2026-01-01"}
    assert pipelines["up"].downstream == ("down",)
    (link,) = pipelines["down"].triggers
    assert (link.kind, link.bus, link.upstream) == ("pipeline", "Bus", ("up",))


def test_a_rule_through_a_function_or_machine_starts_the_pipeline_its_last_machine_names(
    tmp_path: Path,
) -> None:
    """A function's environment `!Ref`s the machine it starts; that machine's startExecution task
    (DefinitionSubstitutions filled) starts the pipeline machine with a literal pipeline."""
    pipelines = load_pipelines(_indirect_project(tmp_path))
    assert pipelines["up"].downstream == ("down",)
    by_rule = {t.rule: t for t in pipelines["down"].triggers}
    assert set(by_rule) == {"RequesterDownAfterUp", "NightlyOuter"}
    after_up = by_rule["RequesterDownAfterUp"]
    assert (after_up.kind, after_up.upstream, after_up.bus) == ("indirect", ("up",), "Bus")
    assert after_up.via == ("Requester", "Batcher")
    assert after_up.parameters == {"business_date": "$.day"}
    assert after_up.summary() == "after up succeeded, through Requester -> Batcher"
    weekly = by_rule["NightlyOuter"]
    assert (weekly.kind, weekly.via, weekly.upstream) == ("indirect", ("Outer", "Batcher"), ())
    assert weekly.summary() == "schedule rate(7 days), through Outer -> Batcher"


def test_a_function_that_names_no_pipeline_machine_starts_nothing(tmp_path: Path) -> None:
    template = INDIRECT_TEMPLATE.replace("BATCHER_ARN: !Ref Batcher", "BATCHER_ARN: batcher")
    pipelines = load_pipelines(_indirect_project(tmp_path, template))
    assert [t.rule for t in pipelines["down"].triggers] == ["NightlyOuter"]
    assert pipelines["up"].downstream == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda asl: asl.replace('"pipeline": "down"', '"pipeline": "sideways"'),
            "rule RequesterDownAfterUp: starts pipeline 'sideways', which has no spec",
        ),
        (
            lambda asl: asl.replace('"business_date.$"', '"day.$"'),
            "rule RequesterDownAfterUp: parameter 'day' is not a parameter of pipeline down",
        ),
        (
            lambda asl: asl.replace('{"business_date.$": "$.day"}', "{}"),
            "rule RequesterDownAfterUp: required parameter 'business_date' of pipeline down is not given",
        ),
        (
            lambda asl: asl.replace("${RunArn}", "${RunPipelineArn}"),
            "state machine Batcher: No DefinitionSubstitutions value for placeholder ${RunPipelineArn}",
        ),
    ],
)
def test_an_indirect_rule_that_does_not_fit_its_spec_is_named(
    tmp_path: Path, change: object, message: str
) -> None:
    assert callable(change)
    with pytest.raises(TemplateError) as caught:
        load_pipelines(_indirect_project(tmp_path, asl=json.loads(change(json.dumps(BATCHER_ASL)))))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace('"parameters": {"business_date": <d>}', '"parameters": {"day": <d>}'),
            "rule MachineDownAfterUp: parameter 'day' is not a parameter of pipeline down",
        ),
        (
            lambda t: t.replace('{"business_date": "2026-01-01"}', "{}"),
            "rule MachineNightly: required parameter 'business_date' of pipeline up is not given",
        ),
        (
            lambda t: t.replace("$.detail.parameters.business_date", "$.detail.parameters.day"),
            "rule MachineDownAfterUp: parameter 'business_date' reads $.detail.parameters.day, "
            "but upstream pipeline up has no parameter 'day'",
        ),
        (
            lambda t: t.replace('"pipeline": "down"', '"pipeline": "sideways"'),
            "rule MachineDownAfterUp: starts pipeline 'sideways', which has no spec",
        ),
        (
            lambda t: t.replace("pipeline: [up]", "pipeline: [nowhere]"),
            "rule MachineDownAfterUp: upstream pipeline 'nowhere' has no spec",
        ),
        (
            lambda t: t.replace("{d: $.detail", "{e: $.detail"),
            "rule MachineDownAfterUp: InputTemplate placeholder <d> is not in InputPathsMap",
        ),
    ],
)
def test_a_rule_that_does_not_fit_its_spec_is_named(tmp_path: Path, change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(WiringError) as caught:
        load_pipelines(_project(tmp_path, change(TEMPLATE)))
    assert message in str(caught.value)


def test_the_pipelines_verb_lists_triggers_and_downstream(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 260)  # one table row per line, whatever the terminal
    assert main(["pipelines", "--project-dir", str(PROJECT_DIR)]) == 0
    out = capsys.readouterr().out
    assert "S3 upload under sales/" in out
    assert "schedule cron(0 2 * * ? *)" in out
    assert "after nightly_sales_snapshot succeeded" in out
    assert (
        "after ingest_sales, ingest_sales_batch, ingest_products, ingest_stores succeeded, "
        "through RequestRefreshFunction -> RefreshViewsStateMachine"
    ) in out


def test_the_pipelines_verb_refuses_a_miswired_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, TEMPLATE.replace('"pipeline": "down"', '"pipeline": "sideways"'))
    assert main(["pipelines", "--project-dir", str(tmp_path)]) == 2
    assert "starts pipeline 'sideways', which has no spec" in capsys.readouterr().err
