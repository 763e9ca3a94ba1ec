"""JSONata support for states with `"QueryLanguage": "JSONata"` (jsonata-python).

Step Functions adds its own functions to JSONata ($partition, $range, $hash, $random, $uuid,
$parse) and reports every failed evaluation as States.QueryEvaluationError naming the
expression and the field it sits in ("Transforming data with JSONata in Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

import jsonata
from jsonata import utils as jsonata_utils
from jsonata.jexception import JException

from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.intrinsic_functions import HASH_ALGORITHMS

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)
_NULL = jsonata_utils.Utils.NULL_VALUE
_MAX_RANGE_ITEMS = 1000


class QueryEvaluationError(StatesError):
    """States.QueryEvaluationError; `location` is the field, as the EvaluationFailed event names it."""

    def __init__(self, cause: str, location: str | None = None) -> None:
        super().__init__(QUERY_EVALUATION_ERROR, cause)
        self.location = location
        self.recorded = False
        """Set once the EvaluationFailed event for this failure is in the history."""


class _FunctionFailed(Exception):
    """One of Step Functions' JSONata functions was called with arguments it refuses."""


def is_expression(value: Any) -> bool:
    """True for strings written as `{% ... %}`."""
    return isinstance(value, str) and _EXPRESSION.match(value) is not None


def evaluate(expression: Any, bindings: Mapping[str, Any], field: str) -> Any:
    """Evaluate a `{% %}` string with `$states` and the workflow variables bound.

    A value that is not an expression is returned as it is (a JSONata field may hold a
    plain JSON value).
    """
    match = _EXPRESSION.match(expression) if isinstance(expression, str) else None
    if match is None:
        return copy.deepcopy(expression)
    body = match.group(1).strip()
    try:
        program = jsonata.Jsonata(body)
        program.set_output_convert_nulls(False)
        frame = {name: _NULL if value is None else value for name, value in bindings.items()}
        frame.update(_FUNCTIONS)
        result = program.evaluate(None, frame)
    except (JException, _FunctionFailed) as exc:
        reason = f"{exc.error}: {exc}" if isinstance(exc, JException) else str(exc)
        raise QueryEvaluationError(
            f"The JSONata expression '{body}' specified for the field '{field}' threw an error during "
            f"evaluation. {reason}",
            field,
        ) from None
    except Exception as exc:
        raise QueryEvaluationError(
            f"The JSONata expression '{body}' specified for the field '{field}' threw an error during "
            f"evaluation. {exc}",
            field,
        ) from None
    if result is None:
        raise QueryEvaluationError(
            f"The JSONata expression '{body}' specified for the field '{field}' returned nothing "
            "(undefined).",
            field,
        )
    value = jsonata_utils.Utils.convert_nulls(result)
    if not _is_json(value):
        raise QueryEvaluationError(
            f"The JSONata expression '{body}' specified for the field '{field}' returned an unsupported "
            f"result type.",
            field,
        )
    return normalize(value)


def expression_text(expression: Any) -> str:
    """The JSONata text of a `{% %}` string, as AWS quotes it in causes; other values as JSON."""
    match = _EXPRESSION.match(expression) if isinstance(expression, str) else None
    return match.group(1).strip() if match else json.dumps(expression)


def render(template: Any, bindings: Mapping[str, Any], field: str) -> Any:
    """Resolve every `{% %}` string inside a JSON template (Arguments, Output, Assign...).

    Nested fields are named as AWS names them: `Output/result`.
    """
    if isinstance(template, str):
        return evaluate(template, bindings, field) if is_expression(template) else template
    if isinstance(template, dict):
        return {key: render(value, bindings, f"{field}/{key}") for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, bindings, f"{field}/{index}") for index, value in enumerate(template)]
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


def json_type(value: Any) -> str:
    """The JSON type name AWS uses in causes: array, object, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    return False


# -- Step Functions' own JSONata functions ("JSONata functions provided by Step Functions") --


def _whole(function: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _FunctionFailed(f"{function}: {what} must be an integer, got {json.dumps(value)}")
    return int(value)


def _partition(array: Any, size: Any) -> list[list[Any]]:
    if not isinstance(array, list):
        raise _FunctionFailed(f"$partition: the first argument must be an array, got {json_type(array)}")
    chunk = _whole("$partition", size, "the chunk size")
    if chunk <= 0:
        raise _FunctionFailed("$partition: the chunk size must be a positive integer")
    items = list(array)
    return [items[index : index + chunk] for index in range(0, len(items), chunk)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    first = _whole("$range", start, "start")
    last = _whole("$range", end, "end")
    increment = _whole("$range", step, "step")
    if increment == 0:
        raise _FunctionFailed("$range: step must not be 0")
    values = list(range(first, last + (1 if increment > 0 else -1), increment))
    if len(values) > _MAX_RANGE_ITEMS:
        raise _FunctionFailed(f"$range: the result would have more than {_MAX_RANGE_ITEMS} items")
    # A JSONata sequence: one value stands for itself, as AWS returns $range(1, 9, 9) as 1.
    return jsonata_utils.Utils.create_sequence_from_iter(values)


def _hash(data: Any, algorithm: Any) -> str:
    if not isinstance(data, str):
        raise _FunctionFailed(f"$hash: the data must be a string, got {json_type(data)}")
    if algorithm not in HASH_ALGORITHMS:
        raise _FunctionFailed(f"$hash: the algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    if seed is None:
        return random.random()
    return random.Random(_whole("$random", seed, "the seed")).random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise _FunctionFailed(f"$parse: the argument must be a string, got {json_type(text)}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _FunctionFailed(f"$parse: not valid JSON: {exc}") from None
    return _NULL if value is None else value


_FUNCTIONS: dict[str, Any] = {
    name: jsonata.Jsonata.JLambda(function)
    for name, function in {
        "partition": _partition,
        "range": _range,
        "hash": _hash,
        "random": _random,
        "uuid": _uuid,
        "parse": _parse,
    }.items()
}
"""Bound after the workflow variables: a variable cannot hide them."""
