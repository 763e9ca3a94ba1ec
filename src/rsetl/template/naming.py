"""Local physical names, `Ref` values and `Fn::GetAtt` attributes of CloudFormation resources.

Names follow what CloudFormation generates closely enough to be recognisable
(`<stack>-<LogicalId>`), and ARNs use the local account and region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rsetl.arn import DEFAULT_BUS, arn, event_bus_arn, function_arn, rule_arn, schedule_arn, state_machine_arn


@dataclass(frozen=True)
class Place:
    """Stack, account and region the local resources live in."""

    stack_name: str
    account_id: str
    region: str

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        return arn(service, resource, self.region if regional else "", self.account_id if account else "")


def _name(props: dict[str, Any], key: str, place: Place, logical_id: str, limit: int = 64) -> str:
    value = props.get(key)
    if isinstance(value, str) and value:
        return value
    return f"{place.stack_name}-{logical_id}"[:limit]


def _lambda(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "FunctionName", place, logical_id)
    return name, {"Arn": function_arn(place.region, place.account_id, name)}


def _layer(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "LayerName", place, logical_id)
    layer = place.arn("lambda", f"layer:{name}:1")
    return layer, {"LayerVersionArn": layer}


def _state_machine(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "StateMachineName", place, logical_id, 80)
    machine = state_machine_arn(place.region, place.account_id, name)
    return machine, {"Arn": machine, "Name": name}


def _bus(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "Name", place, logical_id)
    return name, {"Arn": event_bus_arn(place.region, place.account_id, name), "Name": name}


def _rule(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "Name", place, logical_id)
    bus = props.get("EventBusName")
    bus_name = bus if isinstance(bus, str) and bus else DEFAULT_BUS
    return name, {"Arn": rule_arn(place.region, place.account_id, name, bus_name)}


def _schedule(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "Name", place, logical_id)
    group = props.get("GroupName") or "default"
    return name, {"Arn": schedule_arn(place.region, place.account_id, name, group)}


def _bucket(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "BucketName", place, logical_id.lower(), 63).lower()
    return name, {
        "Arn": arn("s3", name),
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{place.region}.amazonaws.com",
    }


def _queue(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "QueueName", place, logical_id, 80)
    url = f"https://sqs.{place.region}.amazonaws.com/{place.account_id}/{name}"
    return url, {"Arn": place.arn("sqs", name), "QueueName": name, "QueueUrl": url}


def _topic(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "TopicName", place, logical_id)
    topic = place.arn("sns", name)
    return topic, {"TopicArn": topic, "TopicName": name}


def _role(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "RoleName", place, logical_id)
    return name, {
        "Arn": place.arn("iam", f"role/{name}", regional=False),
        "RoleId": f"AROA{logical_id.upper()}",
    }


def _log_group(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = _name(props, "LogGroupName", place, logical_id, 512)
    return name, {"Arn": place.arn("logs", f"log-group:{name}:*")}


def _generic(logical_id: str, props: dict[str, Any], place: Place) -> tuple[str, dict[str, str]]:
    name = f"{place.stack_name}-{logical_id}"
    return name, {"Arn": place.arn("cloudformation", f"resource/{name}")}


_NAMERS: dict[str, Callable[[str, dict[str, Any], Place], tuple[str, dict[str, str]]]] = {
    "AWS::Lambda::Function": _lambda,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::EventBus": _bus,
    "AWS::Events::Rule": _rule,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::IAM::Role": _role,
    "AWS::Logs::LogGroup": _log_group,
}


def physical_identity(
    resource_type: str, logical_id: str, props: dict[str, Any], place: Place
) -> tuple[str, dict[str, str]]:
    """The `Ref` value and the `Fn::GetAtt` attributes of one resource."""
    return _NAMERS.get(resource_type, _generic)(logical_id, props, place)
