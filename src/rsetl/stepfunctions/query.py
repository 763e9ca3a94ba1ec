"""JSONata support for states with `"QueryLanguage": "JSONata"` (jsonata-python)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import jsonata

from rsetl.stepfunctions.exceptions import StatesError

_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)


def is_expression(value: Any) -> bool:
    """True for strings written as `{% ... %}`."""
    return isinstance(value, str) and _EXPRESSION.match(value) is not None


def evaluate(expression: str, bindings: Mapping[str, Any], field: str) -> Any:
    """Evaluate a `{% %}` string with `$states` and the workflow variables bound."""
    match = _EXPRESSION.match(expression)
    if match is None:
        return expression
    body = match.group(1).strip()
    try:
        result = jsonata.Jsonata(body).evaluate(None, dict(bindings))
    except Exception as exc:
        raise StatesError(
            "States.QueryEvaluationError",
            f"An error occurred while evaluating the JSONata expression in field '{field}': {exc}",
        ) from None
    return normalize(result)


def render(template: Any, bindings: Mapping[str, Any], field: str) -> Any:
    """Resolve every `{% %}` string inside a JSON template (Arguments, Output, Assign...)."""
    if isinstance(template, str):
        return evaluate(template, bindings, field) if is_expression(template) else template
    if isinstance(template, dict):
        return {key: render(value, bindings, f"{field}.{key}") for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, bindings, f"{field}[{index}]") for index, value in enumerate(template)]
    return copy.deepcopy(template)


def normalize(value: Any) -> Any:
    """Plain JSON values: JSONata numbers are doubles, whole ones become ints as in AWS output."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value
