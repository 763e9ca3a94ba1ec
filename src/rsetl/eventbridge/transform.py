"""What a target receives: the event, `Input`, `InputPath`, or an `InputTransformer`'s output.

Follows "Amazon EventBridge input transformation" in the user guide: variables from
`InputPathsMap` (JSON paths into the event), the reserved `aws.events.*` variables, and the
template rules: a placeholder inside a JSON string is replaced by the value's text (strings
unquoted, escaped for the string), outside a string by the value as JSON; a template that is
not JSON is sent as a JSON string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JsonPathParserError

from rsetl.eventbridge.exceptions import ValidationException

__all__ = ["RuleContext", "render_target_input", "validate_target_input"]

_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_\-]+")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_RESERVED_PREFIX = "aws."
_MAX_VARIABLES = 100
_RESERVED_NAMES = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
_UNRESOLVED = object()


@dataclass(frozen=True)
class RuleContext:
    """What the reserved `aws.events.*` variables are filled from."""

    rule_arn: str
    rule_name: str
    ingestion_time: str


@lru_cache(maxsize=512)
def _compile_path(path: str) -> JSONPath:
    if not path.startswith("$"):
        raise ValidationException(f"Invalid JSON path '{path}': a path starts with '$'.")
    try:
        return parse_jsonpath(path)
    # jsonpath-ng's lexer raises plain Exception for bad characters, its parser JsonPathParserError.
    except (JsonPathParserError, Exception) as exc:
        raise ValidationException(f"Invalid JSON path '{path}': {exc}") from exc


def _extract(event: Mapping[str, Any], path: str) -> Any:
    found = [match.value for match in _compile_path(path).find(event)]
    if not found:
        return _UNRESOLVED
    if len(found) == 1 and "*" not in path:
        return found[0]
    return found


def validate_target_input(target: Mapping[str, Any]) -> None:
    """Check a target's Input / InputPath / InputTransformer as PutTargets does."""
    target_id = target.get("Id", "")
    given = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key) is not None]
    if len(given) > 1:
        raise ValidationException(
            f"Target {target_id}: only one of Input, InputPath and InputTransformer may be given, "
            f"not {' and '.join(given)}."
        )
    if target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError as exc:
            raise ValidationException(f"Target {target_id}: Input is not valid JSON text: {exc}") from exc
    if target.get("InputPath") is not None:
        _compile_path(target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer is not None:
        _validate_transformer(transformer, target_id)


def _validate_transformer(transformer: Mapping[str, Any], target_id: str) -> None:
    paths = transformer.get("InputPathsMap") or {}
    template = transformer.get("InputTemplate")
    if not isinstance(template, str) or not template:
        raise ValidationException(f"Target {target_id}: InputTransformer needs a non-empty InputTemplate.")
    if len(paths) > _MAX_VARIABLES:
        raise ValidationException(
            f"Target {target_id}: InputPathsMap has {len(paths)} variables; "
            f"at most {_MAX_VARIABLES} are allowed."
        )
    for name, path in paths.items():
        if name.startswith(_RESERVED_PREFIX):
            raise ValidationException(
                f"Target {target_id}: InputPathsMap variable '{name}' uses the reserved prefix 'aws.'."
            )
        if not _VARIABLE_NAME.fullmatch(name):
            raise ValidationException(
                f"Target {target_id}: InputPathsMap variable '{name}' may only contain letters, digits, "
                "'_' and '-'."
            )
        _compile_path(path)
    if _is_json_template(template):
        sample = _fill(template, {name: None for name in paths} | dict.fromkeys(_RESERVED_NAMES))
        try:
            json.loads(sample)
        except ValueError as exc:
            raise ValidationException(
                f"Target {target_id}: InputTemplate is not valid JSON once its placeholders are filled: {exc}"
            ) from exc


def _is_json_template(template: str) -> bool:
    return template.lstrip()[:1] in ("{", "[", '"')


def render_target_input(target: Mapping[str, Any], event: Mapping[str, Any], rule: RuleContext) -> str:
    """The JSON text the target is invoked with for `event`."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath") is not None:
        value = _extract(event, target["InputPath"])
        return json.dumps(None if value is _UNRESOLVED else value)
    transformer = target.get("InputTransformer")
    if transformer is None:
        return json.dumps(event)
    values: dict[str, Any] = {
        name: _extract(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values["aws.events.rule-arn"] = rule.rule_arn
    values["aws.events.rule-name"] = rule.rule_name
    values["aws.events.event.ingestion-time"] = rule.ingestion_time
    values["aws.events.event"] = {key: value for key, value in event.items() if key != "detail"}
    values["aws.events.event.json"] = dict(event)
    template = transformer["InputTemplate"]
    if _is_json_template(template):
        return _fill(template, values)
    return json.dumps(_fill(template, values, plain_text=True))


def _fill(template: str, values: Mapping[str, Any], *, plain_text: bool = False) -> str:
    """Replace the placeholders of `template`, quoting by whether each stands in a JSON string.

    A `plain_text` template is not JSON: values go in as bare text, and the caller quotes the result.
    """
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            match = _PLACEHOLDER.match(template, i)
            if match and match.group(1) in values:
                out.append(_render_value(values[match.group(1)], in_string, plain_text))
                i = match.end()
                continue
        if char == "\\" and in_string and not plain_text:
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def _render_value(value: Any, in_string: bool, plain_text: bool) -> str:
    if value is _UNRESOLVED:
        return "" if in_string or plain_text else "null"
    if not in_string and not plain_text:
        return json.dumps(value)
    text = value if isinstance(value, str) else json.dumps(value)
    if plain_text:
        return text
    # Inside a JSON string the text must be escaped, without the quotes json.dumps adds.
    return json.dumps(text)[1:-1]
