"""Parameter constraints and the template's Rules, checked as CloudFormation checks them.

CloudFormation template Parameters syntax:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
CloudFormation template Rules syntax:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
Rule functions:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from rsetl.template import TemplateError, load_template
from rsetl.template.parameters import ParameterValidationError, check_parameter, parameter_values
from rsetl.template.rules import RuleEvaluator

REPO = Path(__file__).resolve().parents[3]

OLD_SAMCONFIG = """version = 0.1
[default.global.parameters]
stack_name = "rsetl"
[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
parameter_overrides = "WorkgroupName=\\"default-workgroup\\" Database=\\"dev\\""
"""
"""The samconfig.toml shipped before: a workgroup without its WorkgroupId."""


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (
            {"Type": "String", "AllowedPattern": "^[a-z]+$"},
            "Abc",
            r"Parameter 'P' must match pattern \^\[a-z\]\+\$",
        ),
        ({"Type": "String", "AllowedValues": ["a", "b"]}, "c", "Parameter 'P' must be one of AllowedValues"),
        ({"Type": "String", "MinLength": 3}, "ab", "Parameter 'P' must contain at least 3 characters"),
        ({"Type": "String", "MaxLength": 2}, "abc", "Parameter 'P' must contain at most 2 characters"),
        ({"Type": "Number"}, "ten", "Parameter 'P' must be a number"),
        ({"Type": "Number", "MinValue": 60}, "59", "Parameter 'P' must be a number not less than 60"),
        ({"Type": "Number", "MaxValue": 150}, "150.5", "Parameter 'P' must be a number not greater than 150"),
        (
            {"Type": "List<Number>", "MaxValue": 9},
            "1, 10",
            "Each value of parameter 'P' must be a number not",
        ),
        (
            {"Type": "CommaDelimitedList", "AllowedPattern": "^[a-z]+$"},
            "ab, c1",
            "Each value of parameter 'P' must match pattern",
        ),
        (
            {
                "Type": "String",
                "AllowedPattern": "^[a-z]+$",
                "ConstraintDescription": "lower-case letters only",
            },
            "A",
            "Parameter 'P' failed to satisfy constraint: lower-case letters only",
        ),
        ({"Type": "AWS::EC2::VPC::Id"}, "vpc-1", "cannot check values of AWS-specific parameter types"),
    ],
)
def test_a_value_breaking_its_constraint_is_refused_with_cloudformations_message(
    spec: dict[str, Any], value: str, message: str
) -> None:
    with pytest.raises(ParameterValidationError, match=message):
        check_parameter("P", spec, value)


def test_allowed_pattern_matches_the_whole_value() -> None:
    with pytest.raises(ParameterValidationError, match="must match pattern"):
        check_parameter("P", {"Type": "String", "AllowedPattern": "[a-z]+"}, "abc1")
    check_parameter("P", {"Type": "String", "AllowedPattern": "[a-z]+"}, "abc")


def test_values_within_their_constraints_pass() -> None:
    check_parameter("P", {"Type": "Number", "MinValue": 30, "MaxValue": 150}, "150")
    check_parameter("P", {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}, "a, b")
    check_parameter("P", {"Type": "String", "MinLength": 0, "MaxLength": 3}, "")


def test_a_parameter_without_value_or_default_is_refused() -> None:
    with pytest.raises(ParameterValidationError, match=r"Parameters: \[A, B\] must have values"):
        parameter_values({"A": {"Type": "String"}, "B": {"Type": "Number"}, "C": {"Default": "x"}}, {})


def _rules(declared: dict[str, Any], values: dict[str, Any]) -> RuleEvaluator:
    return RuleEvaluator(declared, values, {"AWS::Region": "us-east-1"})


def test_rule_functions_evaluate_as_documented() -> None:
    declared = {
        "Env": {"Type": "String"},
        "Subnets": {"Type": "CommaDelimitedList"},
        "Other": {"Type": "CommaDelimitedList"},
    }
    rules = _rules(declared, {"Env": "prod", "Subnets": ["a", "b"], "Other": ["c"]})
    assert rules.evaluate({"Fn::Contains": [["prod", "test"], {"Ref": "Env"}]}, "x") is True
    assert rules.evaluate({"Fn::EachMemberEquals": [{"Ref": "Subnets"}, "a"]}, "x") is False
    assert rules.evaluate({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["a", "b", "z"]]}, "x") is True
    assert rules.evaluate({"Fn::RefAll": "CommaDelimitedList"}, "x") == ["a", "b", "c"]
    assert rules.evaluate({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}, "x") is True
    assert rules.evaluate({"Fn::And": [True, {"Fn::Not": [{"Fn::Or": [False, False]}]}]}, "x") is True


def test_a_failed_assertion_refuses_with_its_description_unless_the_rule_condition_is_false() -> None:
    declared = {"Ssl": {"Type": "String"}, "Cert": {"Type": "String"}}
    rule = {
        "NeedsCert": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Ssl"}, "true"]},
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Cert"}, ""]}]},
                    "AssertDescription": "SSL needs Cert.",
                }
            ],
        }
    }
    _rules(declared, {"Ssl": "false", "Cert": ""}).check(rule)
    with pytest.raises(
        ParameterValidationError, match=r"^SSL needs Cert\. \(Rules\.NeedsCert\.Assertions\[0\]\)"
    ):
        _rules(declared, {"Ssl": "true", "Cert": ""}).check(rule)


@pytest.mark.parametrize(
    "expression",
    [{"Fn::Sub": "x"}, {"Fn::ValueOf": ["Vpc", "Tags.Name"]}, {"Fn::And": [True]}, {"Ref": "Nope"}, "text"],
)
def test_what_rules_cannot_hold_is_refused(expression: Any) -> None:
    with pytest.raises(ParameterValidationError):
        _rules({}, {}).check({"R": {"Assertions": [{"Assert": expression}]}})


def _project(tmp_path: Path, samconfig: str) -> Path:
    shutil.copy(REPO / "template.yaml", tmp_path / "template.yaml")
    (tmp_path / "samconfig.toml").write_text(samconfig)
    for folder in ("functions", "layers", "pipelines", "statemachines"):
        (tmp_path / folder).symlink_to(REPO / folder)
    return tmp_path / "template.yaml"


def test_the_old_samconfig_fails_the_templates_serverless_scope_rule(tmp_path: Path) -> None:
    with pytest.raises(
        TemplateError, match=r"needs WorkgroupId .*\(Rules\.ServerlessScope\.Assertions\[0\]\)"
    ):
        load_template(_project(tmp_path, OLD_SAMCONFIG))


def test_the_shipped_local_config_env_passes_the_templates_rules() -> None:
    template = load_template(REPO / "template.yaml", config_env="local")
    assert template.parameters["WorkgroupName"] == "default-workgroup"
    assert template.parameters["WorkgroupId"]


def test_the_shipped_default_config_env_names_no_target_so_deploy_asks_for_one() -> None:
    with pytest.raises(TemplateError, match="Set exactly one of ClusterIdentifier and WorkgroupName"):
        load_template(REPO / "template.yaml")


def test_overrides_are_checked_against_the_rules_too() -> None:
    with pytest.raises(TemplateError, match="DbUser applies to provisioned clusters only"):
        load_template(REPO / "template.yaml", config_env="local", parameter_overrides={"DbUser": "etl"})
    with pytest.raises(
        TemplateError, match=r"Parameter 'PollCheckWindowSeconds' must be a number not greater than 150"
    ):
        load_template(
            REPO / "template.yaml", config_env="local", parameter_overrides={"PollCheckWindowSeconds": "151"}
        )


def test_a_missing_named_config_env_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"no \[staging\] config environment"):
        load_template(REPO / "template.yaml", config_env="staging")
