"""EventBridge event patterns: validation with AWS's error messages, and matching.

The semantics follow the EventBridge user guide ("Creating event patterns", "Comparison
operators for use in event patterns", "Matching events on null values and empty strings",
"Array matching"): every field named in the pattern must match (AND), any value listed for a
field may match (OR), `$or` chooses between alternative sub-patterns, an array in the event
matches when any element matches, and the fields matched inside one array element must come
from that same element.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rsetl.eventbridge.exceptions import InvalidEventPatternException

__all__ = ["EventPattern"]

OR_KEY = "$or"
_NUMERIC_LIMIT = 5.0e9
_MATCH_TYPES = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}
)
_LOWER_OPS = {">": False, ">=": True}
_UPPER_OPS = {"<": False, "<=": True}


class _Missing:
    """The value of a field the event does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _fail(reason: str, path: Sequence[str] = ()) -> InvalidEventPatternException:
    where = f' at "{".".join(path)}"' if path else ""
    return InvalidEventPatternException(f"Event pattern is not valid. Reason: {reason}{where}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_scalar(expected: Any, actual: Any) -> bool:
    """JSON equality of two scalars: 1 and 1.0 are equal numbers, `true` is not the number 1."""
    if _is_number(expected):
        return _is_number(actual) and expected == actual
    if expected is None or isinstance(expected, bool):
        return actual is expected
    return isinstance(actual, str) and actual == expected


def _wildcard_regex(pattern: str, path: Sequence[str]) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    previous_star = False
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if previous_star:
                raise _fail(f"Consecutive wildcard characters at pos {i}", path)
            parts.append(".*")
            previous_star = True
            i += 1
            continue
        previous_star = False
        if char == "\\":
            following = pattern[i + 1] if i + 1 < len(pattern) else ""
            if following not in ("*", "\\"):
                raise _fail(f"Invalid escape character at pos {i}", path)
            parts.append(re.escape(following))
            i += 2
            continue
        parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# A value test: given one scalar leaf value of the event, does it satisfy the condition?
ValueTest = Callable[[Any], bool]


@dataclass(frozen=True)
class _Leaf:
    """The list of alternatives given for one field: exact values and match expressions."""

    tests: tuple[ValueTest, ...]
    exists: bool | None = None

    def matches(self, value: Any) -> bool:
        values = list(_leaf_values(value))
        if self.exists is not None and bool(values) == self.exists:
            return True
        return any(test(item) for item in values for test in self.tests)


@dataclass(frozen=True)
class _Object:
    """A nested object of the pattern: every field matches, and one branch of every `$or`."""

    fields: tuple[tuple[str, _Object | _Leaf], ...]
    alternatives: tuple[tuple[_Object, ...], ...] = field(default=())

    def matches(self, value: Any) -> bool:
        if isinstance(value, list):
            elements = [item for item in _flatten(value) if isinstance(item, dict)]
            if elements:
                return any(self._matches_object(item) for item in elements)
            return self._matches_object({})
        return self._matches_object(value if isinstance(value, dict) else {})

    def _matches_object(self, event: Mapping[str, Any]) -> bool:
        for name, node in self.fields:
            if not node.matches(event.get(name, MISSING)):
                return False
        return all(any(branch._matches_object(event) for branch in group) for group in self.alternatives)


def _flatten(values: list[Any]) -> Iterator[Any]:
    for item in values:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _leaf_values(value: Any) -> Iterator[Any]:
    """The scalar values at a path: objects are not leaves, arrays contribute their elements."""
    if value is MISSING or isinstance(value, dict):
        return
    if isinstance(value, list):
        yield from (item for item in _flatten(value) if not isinstance(item, dict))
        return
    yield value


class EventPattern:
    """A validated EventBridge event pattern.

    Build it from the JSON text (as PutRule takes it) or from the parsed object (as a
    CloudFormation template holds it); invalid patterns raise
    :class:`InvalidEventPatternException` with a message saying what is wrong and where.
    """

    def __init__(self, pattern: str | Mapping[str, Any]) -> None:
        if isinstance(pattern, str):
            try:
                parsed = json.loads(pattern)
            except ValueError as exc:
                raise _fail(f"the pattern is not valid JSON: {exc}") from exc
        else:
            parsed = pattern
        if not isinstance(parsed, dict):
            raise _fail("Filter is not an object")
        self.source: dict[str, Any] = parsed
        self._root = _compile_object(parsed, (), inside_or=False)

    def matches(self, event: Mapping[str, Any]) -> bool:
        """True when `event` (the full event envelope with `detail` as an object) matches."""
        return self._root.matches(dict(event))

    def to_json(self) -> str:
        """The pattern as compact JSON text, as DescribeRule returns it."""
        return json.dumps(self.source, separators=(",", ":"))

    def __repr__(self) -> str:
        return f"EventPattern({self.to_json()})"


def _compile_object(pattern: Mapping[str, Any], path: tuple[str, ...], *, inside_or: bool) -> _Object:
    if not pattern:
        raise _fail("Empty objects are not allowed", path)
    fields: list[tuple[str, _Object | _Leaf]] = []
    alternatives: list[tuple[_Object, ...]] = []
    for name, value in pattern.items():
        here = (*path, name)
        if name == OR_KEY:
            alternatives.append(_compile_or(value, path))
            continue
        if inside_or and name in _MATCH_TYPES:
            raise _fail(f"{name} is Ruler reserved fieldName which cannot be used inside {OR_KEY}.", here)
        if isinstance(value, dict):
            fields.append((name, _compile_object(value, here, inside_or=inside_or)))
        elif isinstance(value, list):
            fields.append((name, _compile_leaf(value, here)))
        else:
            raise _fail(f'"{name}" must be an object or an array', here)
    return _Object(tuple(fields), tuple(alternatives))


def _compile_or(value: Any, path: tuple[str, ...]) -> tuple[_Object, ...]:
    here = (*path, OR_KEY)
    if not isinstance(value, list):
        raise _fail(f"It must be an Array followed with {OR_KEY}.", here)
    branches = []
    for item in value:
        if not isinstance(item, dict):
            raise _fail(f"Only JSON object is allowed in array of {OR_KEY} relationship.", here)
        branches.append(_compile_object(item, path, inside_or=True))
    if len(branches) < 2:
        raise _fail(f"There must have at least 2 Objects in {OR_KEY} relationship.", here)
    return tuple(branches)


def _compile_leaf(values: list[Any], path: tuple[str, ...]) -> _Leaf:
    if not values:
        raise _fail("Empty arrays are not allowed", path)
    tests: list[ValueTest] = []
    exists: bool | None = None
    for value in values:
        if isinstance(value, dict):
            kind, test = _compile_expression(value, path)
            if kind == "exists":
                exists = bool(test(None))
            else:
                tests.append(test)
        elif isinstance(value, list):
            raise _fail("Match value must be String, number, true, false, or null", path)
        else:
            tests.append(_exact(value))
    return _Leaf(tuple(tests), exists)


def _exact(expected: Any) -> ValueTest:
    return lambda actual: _same_scalar(expected, actual)


def _require_string(value: Any, name: str, path: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise _fail(f"{name} match pattern must be a string", path)
    return value


def _compile_expression(expression: Mapping[str, Any], path: tuple[str, ...]) -> tuple[str, ValueTest]:
    if not expression:
        raise _fail("Match expression name not found", path)
    if len(expression) > 1:
        raise _fail("Only one key allowed in match expression", path)
    ((kind, operand),) = expression.items()
    if kind == "prefix":
        return kind, _affix_test(operand, "prefix", path)
    if kind == "suffix":
        return kind, _affix_test(operand, "suffix", path)
    if kind == "equals-ignore-case":
        text = _require_string(operand, kind, path).lower()
        return kind, lambda actual: isinstance(actual, str) and actual.lower() == text
    if kind == "wildcard":
        regex = _wildcard_regex(_require_string(operand, kind, path), path)
        return kind, lambda actual: isinstance(actual, str) and regex.fullmatch(actual) is not None
    if kind == "exists":
        if not isinstance(operand, bool):
            raise _fail("exists match pattern must be either true or false.", path)
        return kind, lambda _actual: operand
    if kind == "cidr":
        return kind, _cidr_test(operand, path)
    if kind == "numeric":
        return kind, _numeric_test(operand, path)
    if kind == "anything-but":
        return kind, _anything_but_test(operand, path)
    raise _fail(f"Unrecognized match type {kind}", path)


def _affix_test(operand: Any, kind: str, path: tuple[str, ...]) -> ValueTest:
    ignore_case = False
    if isinstance(operand, dict):
        if set(operand) != {"equals-ignore-case"}:
            raise _fail(f"Unsupported {kind} pattern: {', '.join(operand) or '{}'}", path)
        operand = operand["equals-ignore-case"]
        ignore_case = True
    text = _require_string(operand, kind, path)
    if ignore_case:
        text = text.lower()
    starts = kind == "prefix"

    def test(actual: Any) -> bool:
        if not isinstance(actual, str):
            return False
        candidate = actual.lower() if ignore_case else actual
        return candidate.startswith(text) if starts else candidate.endswith(text)

    return test


def _cidr_test(operand: Any, path: tuple[str, ...]) -> ValueTest:
    text = _require_string(operand, "cidr", path)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise _fail(f"Malformed CIDR, {text}", path) from exc

    def test(actual: Any) -> bool:
        if not isinstance(actual, str):
            return False
        try:
            return ipaddress.ip_address(actual) in network
        except ValueError:
            return False

    return test


def _numeric_value(value: Any, operator: str, path: tuple[str, ...]) -> float:
    if not _is_number(value):
        raise _fail(f"Value of {operator} must be numeric", path)
    if not -_NUMERIC_LIMIT <= value <= _NUMERIC_LIMIT:
        raise _fail("Value must be between -5.0E9 and 5.0E9, inclusive", path)
    return float(value)


def _numeric_test(operand: Any, path: tuple[str, ...]) -> ValueTest:
    if not isinstance(operand, list):
        raise _fail("Value of numeric must be an array.", path)
    if not operand or not isinstance(operand[0], str):
        raise _fail(f"Invalid member in numeric match: {json.dumps(operand[0] if operand else None)}", path)
    if len(operand) % 2 or len(operand) > 4:
        raise _fail("Too many elements in numeric expression", path)
    low: tuple[float, bool] | None = None
    high: tuple[float, bool] | None = None
    equal: float | None = None
    for index in range(0, len(operand), 2):
        operator, number = operand[index], operand[index + 1]
        if not isinstance(operator, str):
            raise _fail(f"Bad value in numeric range: {json.dumps(operator)}", path)
        value = _numeric_value(number, operator, path)
        if operator == "=" and len(operand) == 2:
            equal = value
        elif operator in _LOWER_OPS and index == 0:
            low = (value, _LOWER_OPS[operator])
        elif operator in _UPPER_OPS and high is None:
            high = (value, _UPPER_OPS[operator])
        elif index == 0:
            raise _fail(f"Unrecognized numeric range operator: {operator}", path)
        else:
            raise _fail(f"Bad numeric range operator: {operator}", path)
    if low is not None and high is not None and low[0] >= high[0]:
        raise _fail("Bottom must be less than top", path)

    def test(actual: Any) -> bool:
        if not _is_number(actual) or not -_NUMERIC_LIMIT <= actual <= _NUMERIC_LIMIT:
            return False
        if equal is not None:
            return bool(actual == equal)
        if low is not None and not (actual >= low[0] if low[1] else actual > low[0]):
            return False
        return high is None or bool(actual <= high[0] if high[1] else actual < high[0])

    return test


def _anything_but_test(operand: Any, path: tuple[str, ...]) -> ValueTest:
    if isinstance(operand, dict):
        return _anything_but_expression(operand, path)
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise _fail("Empty arrays are not allowed", path)
    if not all(isinstance(value, str) for value in values) and not all(_is_number(v) for v in values):
        if any(value is None or isinstance(value, bool | dict | list) for value in values):
            raise _fail("Inside anything but list, start|null|boolean is not supported.", path)
        raise _fail(
            "Inside anything but list, either all values are number or string, mixed type is not supported",
            path,
        )
    tests = [_exact(value) for value in values]
    return lambda actual: not any(test(actual) for test in tests)


def _anything_but_expression(operand: Mapping[str, Any], path: tuple[str, ...]) -> ValueTest:
    if len(operand) != 1:
        raise _fail("Only one key allowed in match expression", path)
    ((kind, value),) = operand.items()
    if kind in ("prefix", "suffix"):
        text = _require_string(value, "prefix/suffix", path)
        if not text:
            raise _fail("Null prefix/suffix not allowed", path)
        inner = _affix_test(text, kind, path)
    elif kind in ("equals-ignore-case", "wildcard"):
        texts = value if isinstance(value, list) else [value]
        if not texts or not all(isinstance(text, str) for text in texts):
            raise _fail(f"Inside anything-but/{kind} list, number|start|null|boolean is not supported.", path)
        tests = [_compile_expression({kind: text}, path)[1] for text in texts]

        def inner(actual: Any) -> bool:
            return any(test(actual) for test in tests)

    else:
        raise _fail(f"Unsupported anything-but pattern: {kind}", path)
    return lambda actual: not inner(actual)
