"""Pipelines, their triggers and downstream links read from template.yaml alone; each rule's input
checked against the spec it starts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rsetl.cli import main
from rsetl.cli.local import console
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
    assert pipelines["ingest_sales"].downstream == ("refresh_sales_views",)
    assert {t.upstream for t in pipelines["refresh_sales_views"].triggers} == {
        ("ingest_sales", "ingest_products", "ingest_stores")
    }


def test_a_small_template_reads_triggers_and_links(tmp_path: Path) -> None:
    pipelines = load_pipelines(_project(tmp_path))
    (nightly,) = pipelines["up"].triggers
    assert (nightly.rule, nightly.kind, nightly.schedule) == ("MachineNightly", "schedule", "rate(1 day)")
    assert nightly.parameters == {"business_date": "2026-01-01"}
    assert pipelines["up"].downstream == ("down",)
    (link,) = pipelines["down"].triggers
    assert (link.kind, link.bus, link.upstream) == ("pipeline", "Bus", ("up",))


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
    monkeypatch.setattr(console, "width", 200)  # one table row per line, whatever the terminal
    assert main(["pipelines", "--project-dir", str(PROJECT_DIR)]) == 0
    out = capsys.readouterr().out
    assert "S3 upload under sales/" in out
    assert "schedule cron(0 2 * * ? *)" in out
    assert "after nightly_sales_snapshot succeeded" in out


def test_the_pipelines_verb_refuses_a_miswired_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, TEMPLATE.replace('"pipeline": "down"', '"pipeline": "sideways"'))
    assert main(["pipelines", "--project-dir", str(tmp_path)]) == 2
    assert "starts pipeline 'sideways', which has no spec" in capsys.readouterr().err
