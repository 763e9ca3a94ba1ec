"""Parameter values checked as CloudFormation checks them before it creates a change set.

CloudFormation template Parameters syntax
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html):
`AllowedPattern` must match the whole value (of each member of a list type), `MinLength`/`MaxLength`
apply to `String`, `MinValue`/`MaxValue` to `Number` (each member of `List<Number>`), and a
`ConstraintDescription` replaces the reason in the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rsetl.template.exceptions import TemplateError

PLAIN_TYPES = ("String", "Number", "List<Number>", "CommaDelimitedList")
"""Parameter types whose values are checked without looking anything up in an AWS account."""


class ParameterValidationError(TemplateError):
    """A parameter value CloudFormation would refuse (a `ValidationError` on CreateChangeSet)."""


def parameter_values(declared: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The value of every declared parameter (given, else its Default), each checked against its spec."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterValidationError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    missing = []
    for name, spec in declared.items():
        if name in given:
            values[name] = str(given[name])
        elif "Default" in spec:
            default = spec["Default"]
            values[name] = ",".join(str(d) for d in default) if isinstance(default, list) else str(default)
        else:
            missing.append(name)
    if missing:
        raise ParameterValidationError(
            f"Parameters: [{', '.join(missing)}] must have values "
            "(set them in samconfig.toml or with --parameter-overrides)"
        )
    for name, spec in declared.items():
        check_parameter(name, spec, values[name])
    return values


def typed_value(spec: Mapping[str, Any], value: str) -> str | list[str]:
    """What `Ref` to the parameter gives: a list for the list types, else the string."""
    if _is_list_type(str(spec.get("Type", "String"))):
        return _members(value)
    return value


def check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """Raise :class:`ParameterValidationError` with CloudFormation's message if `value` breaks `spec`."""
    kind = str(spec.get("Type", "String"))
    if kind not in PLAIN_TYPES:
        raise ParameterValidationError(
            f"Parameter '{name}' is of type {kind}: the local runtime cannot check values of "
            f"AWS-specific parameter types (it checks {', '.join(PLAIN_TYPES)})"
        )
    reason = next((r for r in _violations(name, kind, spec, value)), None)
    if reason is not None:
        described = spec.get("ConstraintDescription")
        raise ParameterValidationError(
            f"Parameter '{name}' failed to satisfy constraint: {described}" if described else reason
        )


def _violations(name: str, kind: str, spec: Mapping[str, Any], value: str) -> Any:
    members = _members(value) if _is_list_type(kind) else [value]
    each = "Each value of parameter" if _is_list_type(kind) else "Parameter"
    allowed = spec.get("AllowedValues")
    if allowed is not None and any(m not in [str(a) for a in allowed] for m in members):
        yield f"{each} '{name}' must be one of AllowedValues"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and any(re.fullmatch(str(pattern), m) is None for m in members):
        yield f"{each} '{name}' must match pattern {pattern}"
    if kind == "String":
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            yield f"Parameter '{name}' must contain at least {spec['MinLength']} characters"
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            yield f"Parameter '{name}' must contain at most {spec['MaxLength']} characters"
    if kind in ("Number", "List<Number>"):
        for member in members:
            try:
                number = Decimal(member)
            except InvalidOperation:
                yield f"{each} '{name}' must be a number"
                return
            if not number.is_finite():
                yield f"{each} '{name}' must be a number"
                return
            if "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
                yield f"{each} '{name}' must be a number not less than {spec['MinValue']}"
            if "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
                yield f"{each} '{name}' must be a number not greater than {spec['MaxValue']}"


def _is_list_type(kind: str) -> bool:
    return kind in ("List<Number>", "CommaDelimitedList")


def _members(value: str) -> list[str]:
    # One more member than commas, each space-trimmed (the CommaDelimitedList type's definition).
    return [member.strip() for member in value.split(",")]
