"""Validation of request parameters and serialization of responses, driven by botocore's service models.

Messages follow the form AWS services use for constraint violations, e.g.
``1 validation error detected: Value '45' at 'waitTimeSeconds' failed to satisfy constraint:
Member must have value less than or equal to 30``.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from rsetl.awsproto.errors import AwsError


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value)
    return f"'{text if len(text) <= 100 else text[:100] + '...'}'"


class _Collector:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.type_errors: list[str] = []

    def violation(self, value: Any, path: str, constraint: str) -> None:
        self.violations.append(
            f"Value {_describe(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )


def validate_input(shape: StructureShape | None, params: Any) -> dict[str, Any]:
    """Check `params` against `shape`; raise SerializationException or ValidationException."""
    if shape is None:
        return {}
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "Request body must be a JSON object.")
    collector = _Collector()
    _check(shape, params, "", collector)
    if collector.type_errors:
        raise AwsError("SerializationException", collector.type_errors[0])
    if collector.violations:
        count = len(collector.violations)
        noun = "error" if count == 1 else "errors"
        raise AwsError(
            "ValidationException",
            f"{count} validation {noun} detected: " + "; ".join(collector.violations),
        )
    return params


def _check(shape: Shape, value: Any, path: str, out: _Collector) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            out.type_errors.append(f"Expected an object at '{path or shape.name}'.")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.violation(None, _join(path, name), "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), out)
    elif kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            out.type_errors.append(f"Expected a list at '{path}'.")
            return
        _check_size(shape, value, len(value), path, out)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}.{index + 1}.member", out)
    elif kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            out.type_errors.append(f"Expected an object at '{path}'.")
            return
        _check_size(shape, value, len(value), path, out)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", out)
            _check(shape.value, item, f"{path}.{key}", out)
    elif kind == "string":
        if not isinstance(value, str):
            out.type_errors.append(f"Expected a string at '{path}'.")
            return
        _check_size(shape, value, len(value), path, out)
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            out.violation(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern and not _matches(pattern, value):
            out.violation(value, path, f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.type_errors.append(f"Expected an integer at '{path}'.")
            return
        _check_range(shape, value, path, out)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.type_errors.append(f"Expected a number at '{path}'.")
            return
        _check_range(shape, value, path, out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.type_errors.append(f"Expected a boolean at '{path}'.")
    elif kind == "blob":
        if not isinstance(value, str):
            out.type_errors.append(f"Expected a base64 string at '{path}'.")
    elif kind == "timestamp" and (isinstance(value, bool) or not isinstance(value, int | float | str)):
        out.type_errors.append(f"Expected a timestamp at '{path}'.")


def _check_size(shape: Shape, value: Any, size: int, path: str, out: _Collector) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        out.violation(value, path, f"Member must have length greater than or equal to {low}")
    if high is not None and size > high:
        out.violation(value, path, f"Member must have length less than or equal to {high}")


def _check_range(shape: Shape, value: float, path: str, out: _Collector) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        out.violation(value, path, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        out.violation(value, path, f"Member must have value less than or equal to {high}")


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value, re.DOTALL) is not None
    except re.error:
        # Some model patterns use syntax Python's re lacks; AWS checks them server-side, we do not guess.
        return True


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


def serialize_output(shape: Shape | None, value: Any) -> Any:
    """Turn a service method's result into the JSON the protocol puts on the wire."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return {
            name: serialize_output(shape.members.get(name), item)
            for name, item in value.items()
            if item is not None
        }
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [serialize_output(shape.member, item) for item in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {key: serialize_output(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
