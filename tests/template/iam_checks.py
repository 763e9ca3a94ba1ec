"""Least-privilege checks on IAM policy documents, and CloudFormation condition evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Actions AWS does not let a policy scope to a resource ARN (Resource must be "*").
UNSCOPABLE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "redshift-data:DescribeStatement",
        "redshift-data:CancelStatement",
        "redshift-data:GetStatementResult",
        # The Resource Groups Tagging API has no resource types; Serverless logins read the
        # RedshiftDbRoles tag with these.
        "tag:GetResources",
        "tag:GetTagKeys",
        "redshift-data:ListStatements",
    }
)
# Unscopable actions that must still be narrowed by a condition.
CONDITION_REQUIRED = {
    "redshift-data:DescribeStatement": "redshift-data:statement-owner-iam-userid",
    "redshift-data:CancelStatement": "redshift-data:statement-owner-iam-userid",
    "redshift-data:GetStatementResult": "redshift-data:statement-owner-iam-userid",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_problems(where: str, document: Mapping[str, Any]) -> list[str]:
    """Wildcard actions and unscoped resources of the Allow statements of ``document``."""
    problems = []
    for index, statement in enumerate(as_list(document.get("Statement", []))):
        if statement.get("Effect") != "Allow":
            continue
        place = f"{where}.Statement[{index}]"
        actions = [str(a) for a in as_list(statement.get("Action", []))]
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{place}: NotAction/NotResource grants too much")
        for action in actions:
            if "*" in action:
                problems.append(f"{place}: wildcard action {action!r}")
        resources = as_list(statement.get("Resource", []))
        if "*" in resources:
            for action in actions:
                if action not in UNSCOPABLE_ACTIONS:
                    problems.append(f"{place}: {action} on Resource '*' although AWS allows scoping it")
                key = CONDITION_REQUIRED.get(action)
                if key and not any(key in cond for cond in (statement.get("Condition") or {}).values()):
                    problems.append(f"{place}: {action} on '*' without a {key} condition")
        for resource in resources:
            if isinstance(resource, str) and resource != "*" and resource.endswith(":*:*"):
                problems.append(f"{place}: resource {resource!r} is a wildcard")
    return problems


def resolve_conditions(value: Any, conditions: Mapping[str, bool]) -> Any:
    """``value`` with every ``Fn::If`` taken and ``AWS::NoValue`` dropped."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return resolve_conditions(when_true if conditions[name] else when_false, conditions)
        return {
            k: resolve_conditions(v, conditions) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}
        }
    if isinstance(value, list):
        return [
            resolve_conditions(v, conditions)
            for v in value
            if v != {"Ref": "AWS::NoValue"} and resolve_conditions(v, conditions) != {"Ref": "AWS::NoValue"}
        ]
    return value


def evaluate_conditions(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, bool]:
    """Every condition of ``template`` for the given parameter values (defaults for the rest)."""
    values = {
        name: parameters.get(name, str(spec.get("Default", "")))
        for name, spec in template.get("Parameters", {}).items()
    }
    definitions = template.get("Conditions", {})
    results: dict[str, bool] = {}

    def value_of(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return values[node["Ref"]]
        return node

    def evaluate(node: Any) -> bool:
        ((function, args),) = node.items()
        if function == "Condition":
            return condition(args)
        if function == "Fn::Equals":
            return str(value_of(args[0])) == str(value_of(args[1]))
        if function == "Fn::Not":
            return not evaluate(args[0])
        if function == "Fn::And":
            return all(evaluate(a) for a in args)
        if function == "Fn::Or":
            return any(evaluate(a) for a in args)
        raise AssertionError(f"unsupported condition function {function}")

    def condition(name: str) -> bool:
        if name not in results:
            results[name] = evaluate(definitions[name])
        return results[name]

    for name in definitions:
        condition(name)
    return results


def policy_documents(resources: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(logical id, where, policy document)`` of every IAM role, queue and bucket policy."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for index, policy in enumerate(props.get("Policies", [])):
                yield logical_id, f"{logical_id}.Policies[{index}]", policy
        elif resource["Type"] in ("AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::IAM::Policy"):
            yield logical_id, f"{logical_id}.PolicyDocument", {"PolicyDocument": props["PolicyDocument"]}
