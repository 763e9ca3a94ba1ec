"""The local resources' ARNs, one format each (rsetl/arn.py), as the Service Authorization Reference
writes them."""

from __future__ import annotations

from rsetl.arn import event_bus_arn, execution_arn, function_arn, rule_arn, schedule_arn, state_machine_arn

WHERE = ("eu-west-1", "123456789012")


def test_a_rule_of_a_custom_bus_names_its_bus_and_one_of_the_default_bus_does_not() -> None:
    """`arn:${Partition}:events:${Region}:${Account}:rule/[${EventBusName}/]${RuleName}` ("Actions,
    resources, and condition keys for Amazon EventBridge",
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html)."""
    assert rule_arn(*WHERE, "r") == "arn:aws:events:eu-west-1:123456789012:rule/r"
    assert rule_arn(*WHERE, "r", "etl") == "arn:aws:events:eu-west-1:123456789012:rule/etl/r"
    assert event_bus_arn(*WHERE, "etl") == "arn:aws:events:eu-west-1:123456789012:event-bus/etl"


def test_state_machine_execution_schedule_and_function_arns() -> None:
    """Step Functions (`stateMachine:<name>`, `execution:<machine>:<name>`), EventBridge Scheduler
    (`schedule/<group>/<name>`) and Lambda (`function:<name>`) resources, from the same reference
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html)."""
    assert state_machine_arn(*WHERE, "m") == "arn:aws:states:eu-west-1:123456789012:stateMachine:m"
    assert execution_arn(*WHERE, "m", "e") == "arn:aws:states:eu-west-1:123456789012:execution:m:e"
    assert schedule_arn(*WHERE, "s") == "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/s"
    assert function_arn(*WHERE, "f") == "arn:aws:lambda:eu-west-1:123456789012:function:f"
