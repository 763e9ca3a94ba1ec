"""Run parameters: the values a run's SQL receives, checked against the spec's declarations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .errors import InputError
from .specs import BUILTIN_PARAMETERS

ParameterValue = str | int


def resolve_parameters(
    spec: Mapping[str, Any], given: Mapping[str, Any], started_at: dt.datetime
) -> dict[str, ParameterValue]:
    """Declared parameters of ``spec`` with values from ``given`` or their defaults.

    Raises ``InputError`` naming the pipeline and parameter for unknown, missing or
    ill-typed values. Date defaults count days back from ``started_at`` (UTC).
    """
    declared: Mapping[str, Any] = spec.get("parameters", {})
    pipeline = spec["name"]
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise InputError(f"pipeline {pipeline!r} has no parameter {', '.join(unknown)} (declared: {known})")
    values: dict[str, ParameterValue] = {}
    for name, definition in declared.items():
        where = f"pipeline {pipeline!r} parameter {name!r}"
        if name in given:
            values[name] = _coerce(where, definition, given[name])
        elif "default" in definition:
            values[name] = _default(where, definition, started_at)
        elif definition.get("required"):
            raise InputError(f"{where} is required but was not given")
    return values


def sql_values(run: Mapping[str, Any]) -> dict[str, ParameterValue]:
    """Values SQL can refer to: the run's parameters plus the built-in ones."""
    builtins = {name: run[name] for name in BUILTIN_PARAMETERS}
    return {**run["parameters"], **builtins}


def parse_timestamp(value: str, what: str) -> dt.datetime:
    """An ISO-8601 timestamp as Step Functions writes them (``...Z``), as an aware datetime."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what} {value!r} is not an ISO-8601 timestamp") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _coerce(where: str, definition: Mapping[str, Any], value: Any) -> ParameterValue:
    kind = definition.get("type", "string")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InputError(f"{where} must be an integer, not {value!r}")
        try:
            return int(value)
        except ValueError as err:
            raise InputError(f"{where} must be an integer, not {value!r}") from err
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string, not {value!r}")
    if kind == "date":
        try:
            # fromisoformat also reads YYYYMMDD; only the dashed form is accepted.
            parsed = dt.date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise InputError(f"{where} must be a date YYYY-MM-DD, not {value!r}")
        return parsed.isoformat()
    max_length = definition.get("max_length")
    if max_length is not None and len(value) > max_length:
        raise InputError(f"{where} is longer than {max_length} characters")
    return value


def _default(where: str, definition: Mapping[str, Any], started_at: dt.datetime) -> ParameterValue:
    default = definition["default"]
    if isinstance(default, dict):
        day = started_at.astimezone(dt.UTC).date() - dt.timedelta(days=int(default["days_ago"]))
        return day.isoformat()
    return _coerce(where, definition, default)
