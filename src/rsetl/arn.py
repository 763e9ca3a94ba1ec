"""The ARNs of the local resources, each format written once ("Amazon Resource Names (ARNs)", IAM User
Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""

from __future__ import annotations

DEFAULT_BUS = "default"


def arn(service: str, resource: str, region: str = "", account: str = "") -> str:
    """`arn:aws:<service>:<region>:<account>:<resource>`; global services leave region (and S3 the
    account) empty."""
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def state_machine_arn(region: str, account: str, name: str) -> str:
    return arn("states", f"stateMachine:{name}", region, account)


def execution_arn(region: str, account: str, machine_name: str, name: str) -> str:
    return arn("states", f"execution:{machine_name}:{name}", region, account)


def event_bus_arn(region: str, account: str, name: str) -> str:
    return arn("events", f"event-bus/{name}", region, account)


def rule_arn(region: str, account: str, name: str, bus_name: str = DEFAULT_BUS) -> str:
    """A rule of the default bus is `rule/<name>`; of another bus `rule/<bus>/<name>`."""
    path = name if bus_name == DEFAULT_BUS else f"{bus_name}/{name}"
    return arn("events", f"rule/{path}", region, account)


def schedule_arn(region: str, account: str, name: str, group_name: str = "default") -> str:
    return arn("scheduler", f"schedule/{group_name}/{name}", region, account)


def function_arn(region: str, account: str, name: str) -> str:
    return arn("lambda", f"function:{name}", region, account)
