"""Choice Rules of JSONPath Choice states: comparison operators, their Path forms, And/Or/Not.

Each rule is typed once, when its state is built (:func:`build_condition`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.paths import PathNotFound, read_path

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsNumeric": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "IsString": lambda value: isinstance(value, str),
    "IsTimestamp": lambda value: isinstance(value, str) and parse_timestamp(value) is not None,
}

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

_KINDS = ("String", "Numeric", "Boolean", "Timestamp")

COMPARISON_OPERATORS: frozenset[str] = (
    frozenset(
        [f"{kind}{order}{suffix}" for kind in _KINDS for order in _ORDERINGS for suffix in ("", "Path")]
        + ["StringMatches", "IsPresent", *_TYPE_TESTS]
    )
    - {"BooleanLessThan", "BooleanGreaterThan", "BooleanLessThanEquals", "BooleanGreaterThanEquals"}
    - {
        "BooleanLessThanPath",
        "BooleanGreaterThanPath",
        "BooleanLessThanEqualsPath",
        "BooleanGreaterThanEqualsPath",
    }
)

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp with an uppercase T and a zone, as ASL requires; None otherwise."""
    if not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _converted(kind: str, value: Any) -> Any:
    """The value as the operator's kind compares it, or None when it is of another type (no match)."""
    if kind == "String":
        return value if isinstance(value, str) else None
    if kind == "Numeric":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "Boolean":
        return value if isinstance(value, bool) else None
    return parse_timestamp(value) if isinstance(value, str) else None


def string_matches(value: str, pattern: str) -> bool:
    """StringMatches: `*` matches any run of characters; `\\*` and `\\\\` are literal."""
    regex: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            regex.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        regex.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.fullmatch("".join(regex), value, re.DOTALL) is not None


class ChoiceCondition(ABC):
    """A JSONPath Choice Rule, typed once when its state is built."""

    @abstractmethod
    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        """Whether the rule matches `data`."""


@dataclass(frozen=True)
class AllOf(ChoiceCondition):
    """`And`: every rule matches (the later ones are not evaluated once one does not)."""

    rules: tuple[ChoiceCondition, ...]

    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        return all(rule.matches(data, context, variables) for rule in self.rules)


@dataclass(frozen=True)
class AnyOf(ChoiceCondition):
    """`Or`: some rule matches (the later ones are not evaluated once one does)."""

    rules: tuple[ChoiceCondition, ...]

    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        return any(rule.matches(data, context, variables) for rule in self.rules)


@dataclass(frozen=True)
class NoneOf(ChoiceCondition):
    """`Not`: the rule does not match."""

    rule: ChoiceCondition

    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        return not self.rule.matches(data, context, variables)


@dataclass(frozen=True)
class Unusable(ChoiceCondition):
    """A rule the definition check lets through that fails the state when it is evaluated."""

    cause: str

    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        raise StatesError("States.Runtime", self.cause)


def _invalid_path(path: Any) -> StatesError:
    return StatesError(
        "States.Runtime",
        f"Invalid path '{path}': The choice state's condition path references an invalid value.",
    )


@dataclass(frozen=True)
class Comparison(ChoiceCondition):
    """`Variable` compared by `operator` (without its `Path` suffix) with `expected`, or with the value
    at the path `expected` when `by_path`."""

    variable: str
    operator: str
    expected: Any
    by_path: bool

    def matches(self, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
        operator, expected = self.operator, self.expected
        try:
            value = read_path(self.variable, data, context, variables)
        except PathNotFound:
            if operator == "IsPresent":
                return expected is False
            raise _invalid_path(self.variable) from None
        if operator == "IsPresent":
            return expected is True
        if operator in _TYPE_TESTS:
            return _TYPE_TESTS[operator](value) is expected
        if self.by_path:
            try:
                expected = read_path(expected, data, context, variables)
            except PathNotFound:
                raise _invalid_path(self.expected) from None
        if operator == "StringMatches":
            return isinstance(value, str) and string_matches(value, expected)
        kind = next(kind for kind in _KINDS if operator.startswith(kind))
        left, right = _converted(kind, value), _converted(kind, expected)
        if left is None or right is None:
            return False
        return _ORDERINGS[operator[len(kind) :]](left, right)


def build_condition(rule: Mapping[str, Any]) -> ChoiceCondition:
    """The typed form of a (possibly nested) JSONPath Choice Rule."""
    if "And" in rule:
        return AllOf(tuple(build_condition(sub) for sub in rule["And"]))
    if "Or" in rule:
        return AnyOf(tuple(build_condition(sub) for sub in rule["Or"]))
    if "Not" in rule:
        return NoneOf(build_condition(rule["Not"]))
    operator = next((key for key in rule if key in COMPARISON_OPERATORS), None)
    if operator is None:
        return Unusable(f"Choice rule has no comparison operator: {dict(rule)}")
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        return Unusable(f"Choice rule with {operator} has no Variable")
    expected = rule[operator]
    by_path = operator.endswith("Path")
    if by_path:
        operator = operator[: -len("Path")]
    return Comparison(variable, operator, expected, by_path)
