"""The local `events` API (JSON 1.1, `X-Amz-Target: AWSEvents.*`) over :class:`EventBridge`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from rsetl import paging
from rsetl.arn import DEFAULT_BUS, event_bus_arn, rule_arn
from rsetl.awsproto import AwsRequest, JsonService, RequestContext
from rsetl.eventbridge.bus import EventBridge
from rsetl.eventbridge.exceptions import ValidationException
from rsetl.eventbridge.rules import EventBus

__all__ = ["EventsService"]

T = TypeVar("T")
_DEFAULT_PAGE = 100


def _page(items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """One page by NextToken / Limit."""
    return paging.page(
        items,
        params.get("NextToken"),
        int(params.get("Limit") or _DEFAULT_PAGE),
        lambda token: ValidationException(f"The NextToken '{token}' is not valid."),
    )


def _bus_dict(bus: EventBus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": bus.name,
        "Arn": bus.arn,
        "CreationTime": bus.created,
        "LastModifiedTime": bus.modified,
    }
    if bus.description:
        out["Description"] = bus.description
    return out


def _entry_time(value: Any) -> datetime | None:
    """PutEvents `Time`: botocore sends epoch seconds; other clients may send ISO 8601."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ValidationException(f"Time '{value}' is not a valid timestamp.") from None


class EventsService(JsonService):
    """Answers the boto3 `events` client and the AWS CLI from one :class:`EventBridge`."""

    service_name = "events"

    def __init__(self, bridge: EventBridge) -> None:
        self.bridge = bridge

    def operation_resources(
        self, operation: str, params: dict[str, Any], context: RequestContext
    ) -> list[str]:
        """PutEvents acts on each entry's bus; rule operations on the rule (Service Authorization
        Reference, "Actions, resources, and condition keys for Amazon EventBridge",
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html)."""
        where = (context.region, context.account_id)

        def bus_arn(name: Any) -> str:
            name = str(name or DEFAULT_BUS)
            return name if name.startswith("arn:") else event_bus_arn(*where, name)

        if operation == "PutEvents":
            return sorted({bus_arn(entry.get("EventBusName")) for entry in params["Entries"]})
        if "Rule" in operation and isinstance(params.get("Name") or params.get("Rule"), str):
            rule = str(params.get("Name") or params.get("Rule"))
            bus = str(params.get("EventBusName") or DEFAULT_BUS).rpartition("/")[2]
            return [rule_arn(*where, rule, bus)]
        if "EventBus" in operation and isinstance(params.get("Name"), str):
            return [bus_arn(params["Name"])]
        return ["*"]

    def answers_at_once(self, request: AwsRequest) -> bool:
        """TestEventPattern matches its own input, reading and writing nothing."""
        return request.header("X-Amz-Target") == "AWSEvents.TestEventPattern"

    def put_events(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        entries = [{**entry, "Time": _entry_time(entry.get("Time"))} for entry in params["Entries"]]
        return self.bridge.put_events(entries)

    def put_rule(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        rule = self.bridge.put_rule(
            params["Name"],
            event_pattern=params.get("EventPattern"),
            schedule_expression=params.get("ScheduleExpression"),
            state=params.get("State"),
            description=params.get("Description"),
            role_arn=params.get("RoleArn"),
            event_bus_name=params.get("EventBusName"),
        )
        return {"RuleArn": rule.arn}

    def describe_rule(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        rule = self.bridge.describe_rule(params["Name"], params.get("EventBusName"))
        return rule.describe(self.bridge.account_id)

    def list_rules(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        rules = self.bridge.list_rules(params.get("NamePrefix"), params.get("EventBusName"))
        page, token = _page(rules, params)
        out: dict[str, Any] = {"Rules": [rule.describe(self.bridge.account_id) for rule in page]}
        for rule in out["Rules"]:
            rule.pop("CreatedBy", None)
        if token:
            out["NextToken"] = token
        return out

    def delete_rule(self, params: dict[str, Any], context: RequestContext) -> None:
        self.bridge.delete_rule(params["Name"], params.get("EventBusName"), bool(params.get("Force")))

    def enable_rule(self, params: dict[str, Any], context: RequestContext) -> None:
        self.bridge.set_rule_state(params["Name"], True, params.get("EventBusName"))

    def disable_rule(self, params: dict[str, Any], context: RequestContext) -> None:
        self.bridge.set_rule_state(params["Name"], False, params.get("EventBusName"))

    def put_targets(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        self.bridge.put_targets(params["Rule"], params["Targets"], params.get("EventBusName"))
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        targets = self.bridge.list_targets_by_rule(params["Rule"], params.get("EventBusName"))
        page, token = _page(targets, params)
        out: dict[str, Any] = {"Targets": page}
        if token:
            out["NextToken"] = token
        return out

    def remove_targets(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        self.bridge.remove_targets(params["Rule"], params["Ids"], params.get("EventBusName"))
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def test_event_pattern(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return {"Result": self.bridge.test_event_pattern(params["EventPattern"], params["Event"])}

    def create_event_bus(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        bus = self.bridge.create_event_bus(params["Name"], params.get("Description"))
        out: dict[str, Any] = {"EventBusArn": bus.arn}
        if bus.description:
            out["Description"] = bus.description
        return out

    def describe_event_bus(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return _bus_dict(self.bridge.describe_event_bus(params.get("Name")))

    def list_event_buses(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        buses = self.bridge.list_event_buses(params.get("NamePrefix"))
        page, token = _page(buses, params)
        out: dict[str, Any] = {"EventBuses": [_bus_dict(bus) for bus in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_event_bus(self, params: dict[str, Any], context: RequestContext) -> None:
        self.bridge.delete_event_bus(params["Name"])
