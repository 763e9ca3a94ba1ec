"""Loading a SAM template offline: transform, parameters, conditions, intrinsics, local paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsetl.template import (
    TemplateError,
    load_template,
    parse_parameter_overrides,
    state_machine_definition,
)

FIXTURE = Path(__file__).parent / "fixture"


@pytest.fixture(scope="module")
def template():
    return load_template(FIXTURE / "template.yaml")


def test_stack_name_and_parameters_come_from_samconfig(template) -> None:
    assert template.stack_name == "fixture-stack"
    assert template.parameters["NightlySchedule"] == "rate(1 day)"
    assert template.parameters["Environment"] == "dev"


def test_function_has_its_code_folder_layer_and_resolved_environment(template) -> None:
    (function,) = template.of_type("AWS::Lambda::Function")
    assert function.local_path == (FIXTURE / "fn").resolve()
    assert function.ref == "fixture-stack-Worker"
    assert function.arn == "arn:aws:lambda:us-east-1:000000000000:function:fixture-stack-Worker"
    variables = function.properties["Environment"]["Variables"]
    assert variables == {"BUS_NAME": "fixture-stack-bus", "MODE": "relaxed"}
    (layer,) = template.of_type("AWS::Lambda::LayerVersion")
    assert layer.local_path == (FIXTURE / "layer").resolve()
    assert function.properties["Layers"] == [layer.ref]


def test_layer_keeps_the_metadata_sam_build_reads(template) -> None:
    """The SAM transform drops a layer's `Metadata`; `sam build` reads its `BuildMethod` before it.

    AWS SAM Developer Guide, "Building Lambda layers in AWS SAM":
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-layers.html
    """
    (layer,) = template.of_type("AWS::Lambda::LayerVersion")
    assert layer.metadata == {"BuildMethod": "python3.11"}
    (function,) = template.of_type("AWS::Lambda::Function")
    assert function.metadata == {}


def test_state_machine_definition_has_substitutions_applied(template) -> None:
    (machine,) = template.of_type("AWS::StepFunctions::StateMachine")
    definition = state_machine_definition(machine)
    assert definition["States"]["Work"]["Resource"].endswith(":function:fixture-stack-Worker")
    entries = definition["States"]["Tell"]["Parameters"]["Entries"]
    assert entries[0]["EventBusName"] == "fixture-stack-bus"
    assert template.outputs["MachineArn"] == machine.arn


def test_schedule_and_rule_events_become_rules_targeting_the_machine(template) -> None:
    rules = {rule.logical_id: rule for rule in template.of_type("AWS::Events::Rule")}
    (machine,) = template.of_type("AWS::StepFunctions::StateMachine")
    schedule = rules["MachineNightly"].properties
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["Targets"][0]["Arn"] == machine.arn
    assert schedule["Targets"][0]["Input"] == '{"pipeline": "nightly"}'
    pattern = rules["MachineUploaded"].properties["EventPattern"]
    assert pattern["detail"]["bucket"]["name"] == ["landing-000000000000-dev"]


def test_false_condition_drops_the_resource(template) -> None:
    assert "Alerts" not in template.resources


def test_overrides_win_and_conditions_follow(tmp_path: Path) -> None:
    template = load_template(
        FIXTURE / "template.yaml", parameter_overrides={"Environment": "prod", "TopicName": "alerts"}
    )
    (function,) = template.of_type("AWS::Lambda::Function")
    assert function.properties["Environment"]["Variables"]["MODE"] == "strict"
    assert template.resources["Alerts"].ref.endswith(":alerts")


def test_disallowed_parameter_value_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"Parameter 'Environment' must be one of AllowedValues"):
        load_template(FIXTURE / "template.yaml", parameter_overrides={"Environment": "staging"})


def test_undeclared_override_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"Parameters: \[Nope\] do not exist in the template"):
        load_template(FIXTURE / "template.yaml", parameter_overrides={"Nope": "1"})


def test_unsupported_resources_are_listed(template) -> None:
    emulated = {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::Events::Rule"}
    names = {r.type for r in template.unsupported(emulated)}
    assert "AWS::S3::Bucket" in names
    assert "AWS::Lambda::Function" not in names


def test_parameter_override_parsing() -> None:
    assert parse_parameter_overrides('A=1 B="two words" C=') == {"A": "1", "B": "two words", "C": ""}
    with pytest.raises(TemplateError, match="Key=Value"):
        parse_parameter_overrides("novalue")
