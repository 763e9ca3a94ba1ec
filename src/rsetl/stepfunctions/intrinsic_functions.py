"""The intrinsic functions of JSONPath states (`States.Format`, `States.ArrayRange`, ...), with AWS's
argument rules ("Intrinsic functions for JSONPath states in Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from rsetl.stepfunctions import errors
from rsetl.stepfunctions.exceptions import StatesError

_MAX_ARRAY_RANGE = 1000
_MAX_BASE64_INPUT = 10_000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
"""States.Hash's algorithm names (JSONata's `$hash` takes the same) to hashlib's."""


def _fail(function: str, reason: str) -> StatesError:
    return StatesError(errors.INTRINSIC_FAILURE, f"Invalid arguments in {function}: {reason}")


def _format(template: str, *values: Any) -> str:
    if not isinstance(template, str):
        raise _fail("States.Format", "the first argument must be a string")
    out: list[str] = []
    position = 0
    index = 0
    while index < len(template):
        if template.startswith("\\{", index) or template.startswith("\\}", index):
            out.append(template[index + 1])
            index += 2
        elif template.startswith("{}", index):
            if position >= len(values):
                raise _fail("States.Format", "the number of arguments does not match the number of '{}'")
            out.append(_format_value(values[position]))
            position += 1
            index += 2
        else:
            out.append(template[index])
            index += 1
    if position != len(values):
        raise _fail("States.Format", "the number of arguments does not match the number of '{}'")
    return "".join(out)


def _format_value(value: Any) -> str:
    """A States.Format argument as AWS renders it: JSON scalars as JSON, a string as itself, objects
    and arrays as `{key=value, ...}` and `[a, b]` (what AWS shows for `{"Arg1": 1, "Arg2": []}` is
    `{Arg1=1, Arg2=[]}`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    return json.dumps(value)


def _string_to_json(text: str) -> Any:
    if not isinstance(text, str):
        raise _fail("States.StringToJson", "the argument must be a string")
    if not text.strip():
        # AWS parses an empty or blank string to null.
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail("States.StringToJson", f"not valid JSON: {exc}") from None


def _json_to_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _array(*values: Any) -> list[Any]:
    return list(values)


def _integer(function: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise _fail(function, f"{what} must be an integer, got {value!r}")
    return int(value)


def _array_arg(function: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(function, f"the first argument must be an array, got {value!r}")
    return value


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items = _array_arg("States.ArrayPartition", array)
    chunk = _integer("States.ArrayPartition", size, "the chunk size")
    if chunk <= 0:
        raise _fail("States.ArrayPartition", "the chunk size must be greater than 0")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_contains(array: Any, value: Any) -> bool:
    return value in _array_arg("States.ArrayContains", array)


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    first = _integer("States.ArrayRange", start, "start")
    last = _integer("States.ArrayRange", end, "end")
    increment = _integer("States.ArrayRange", step, "step")
    if increment == 0:
        raise _fail("States.ArrayRange", "step must not be 0")
    values = list(range(first, last + (1 if increment > 0 else -1), increment))
    if len(values) > _MAX_ARRAY_RANGE:
        raise _fail("States.ArrayRange", f"the result would have more than {_MAX_ARRAY_RANGE} items")
    return values


def _array_get_item(array: Any, index: Any) -> Any:
    items = _array_arg("States.ArrayGetItem", array)
    position = _integer("States.ArrayGetItem", index, "the index")
    if not 0 <= position < len(items):
        raise _fail("States.ArrayGetItem", f"index {position} is out of bounds for an array of {len(items)}")
    return items[position]


def _array_length(array: Any) -> int:
    return len(_array_arg("States.ArrayLength", array))


def _array_unique(array: Any) -> list[Any]:
    unique: list[Any] = []
    for item in _array_arg("States.ArrayUnique", array):
        if item not in unique:
            unique.append(item)
    return unique


def _base64_encode(text: Any) -> str:
    if not isinstance(text, str) or len(text) > _MAX_BASE64_INPUT:
        raise _fail(
            "States.Base64Encode", f"the argument must be a string of at most {_MAX_BASE64_INPUT} characters"
        )
    return base64.b64encode(text.encode()).decode()


def _base64_decode(text: Any) -> str:
    if not isinstance(text, str) or len(text) > _MAX_BASE64_INPUT:
        raise _fail(
            "States.Base64Decode", f"the argument must be a string of at most {_MAX_BASE64_INPUT} characters"
        )
    try:
        return base64.b64decode(text, validate=True).decode()
    except ValueError as exc:
        raise _fail("States.Base64Decode", f"not valid base64: {exc}") from None


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in HASH_ALGORITHMS:
        raise _fail(
            "States.Hash", f"algorithm must be one of {', '.join(HASH_ALGORITHMS)}, got {algorithm!r}"
        )
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


def _json_merge(first: Any, second: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _fail("States.JsonMerge", "both objects to merge must be JSON objects")
    if deep is not False:
        raise _fail("States.JsonMerge", "only a shallow merge is supported: the third argument must be false")
    return {**first, **second}


def _rounded(function: str, value: Any, what: str) -> int:
    """A number rounded half up, as AWS rounds the arguments of the math intrinsics:
    States.MathAdd(1.5, -1.5) is 2 + -1 = 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(function, f"{what} must be a number, got {json.dumps(value)}")
    return math.floor(value + 0.5)


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    low = _rounded("States.MathRandom", start, "start")
    high = _rounded("States.MathRandom", end, "end")
    if high <= low:
        raise _fail("States.MathRandom", "end must be greater than start")
    generator = random.Random(_rounded("States.MathRandom", seed, "seed")) if seed is not None else random
    return generator.randrange(low, high)


def _math_add(first: Any, second: Any) -> int:
    values = (
        _rounded("States.MathAdd", first, "the first value"),
        _rounded("States.MathAdd", second, "the second value"),
    )
    # "You must specify integer values in the range of -2147483648 and 2147483647" (Intrinsic functions).
    if not all(_INT32_MIN <= value <= _INT32_MAX for value in values):
        raise _fail("States.MathAdd", f"the values must be between {_INT32_MIN} and {_INT32_MAX}")
    return sum(values)


def _string_split(text: Any, delimiters: Any) -> list[str]:
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise _fail("States.StringSplit", "both arguments must be strings")
    parts: list[str] = []
    current: list[str] = []
    for char in text:
        if char in delimiters:
            if current:
                parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return parts


def _uuid() -> str:
    return str(uuid.uuid4())


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
