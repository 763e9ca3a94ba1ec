"""IAM condition operators and policy variables, written from the IAM User Guide.

- "IAM JSON policy elements: Condition operators"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
  a key absent from the request context makes a condition false, except for the negated
  operators (true), `...IfExists` (true) and `Null`.
- "IAM policy elements: Variables and tags"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
  `${key}` in Resource and condition values (policy Version 2012-10-17 only), `${key, 'default'}`,
  and `${*}`, `${?}`, `${$}` for the literal characters.

Condition keys are case-insensitive, their values case-sensitive (except `...IgnoreCase`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from rsetl.iam.exceptions import PolicyError

__all__ = ["ContextValue", "RequestKeys", "condition_holds", "matches", "parse_conditions", "substitute"]

ContextValue = str | bool | int | float | Sequence[str]


RequestKeys = Mapping[str, ContextValue]
"""The request context: condition key (any case) -> value (a list for multivalued keys)."""


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


_LITERALS = {"*": "*", "?": "?", "$": "$"}


_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "IpAddress", "NotIpAddress", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Null",
}  # fmt: skip


_NEGATED = {
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
    "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike",
}  # fmt: skip


def parse_conditions(raw: Any, where: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """A statement's Condition element, checked, as (operator, key, values); `where` names it in errors."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}.Condition: a JSON object of operators")
    parsed = []
    for operator, block in raw.items():
        base = _base_operator(str(operator))
        if base not in _OPERATORS:
            raise PolicyError(f"{where}.Condition: unknown condition operator {operator!r}")
        if base == "Null" and str(operator) != "Null":
            raise PolicyError(f"{where}.Condition: Null takes no IfExists or set qualifier")
        if not isinstance(block, Mapping) or not block:
            raise PolicyError(f"{where}.Condition.{operator}: a JSON object of condition keys")
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str | bool | int | float) for v in values):
                raise PolicyError(f"{where}.Condition.{operator}.{key}: a value or a list of values")
            parsed.append((str(operator), str(key), tuple(_text(v) for v in values)))
    return tuple(parsed)


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _base_operator(operator: str) -> str:
    _, _, name = operator.rpartition(":")
    return name.removesuffix("IfExists")


@lru_cache(maxsize=4096)
def _compiled(pattern: str, case: bool, wildcards: bool) -> re.Pattern[str]:
    """`pattern` as a regex: `*` and `?` are wildcards unless escaped by `\x00` (a literal)."""
    parts: list[str] = []
    literal = False
    for char in pattern:
        if char == "\x00":
            literal = True
            continue
        if wildcards and not literal and char in "*?":
            parts.append(".*" if char == "*" else ".")
        else:
            parts.append(re.escape(char))
        literal = False
    flags = re.DOTALL if case else re.DOTALL | re.IGNORECASE
    return re.compile("^" + "".join(parts) + "$", flags)


def matches(pattern: str, value: str, *, case: bool = True, wildcards: bool = True) -> bool:
    """Whether `value` matches `pattern` and its `*` and `?` wildcards (unless escaped)."""
    return _compiled(pattern, case, wildcards).match(value) is not None


def _lookup(keys: RequestKeys, key: str) -> ContextValue | None:
    wanted = key.lower()
    for name, value in keys.items():
        if name.lower() == wanted:
            return value
    return None


def substitute(text: str, keys: RequestKeys) -> str | None:
    """`text` with its policy variables filled in; None when a variable has no value nor default.

    Wildcards `*` and `?` stay wildcards; a variable's value and `${*}`/`${?}` are literal,
    so they come back escaped as `\\x00` + char, which :func:`matches` understands.
    """
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        inner = match.group(1).strip()
        if inner in _LITERALS:
            return "\x00" + _LITERALS[inner]
        name, _, default = inner.partition(",")
        value = _lookup(keys, name.strip())
        if value is None or isinstance(value, list | tuple):
            default = default.strip()
            if len(default) >= 2 and default[0] == default[-1] == "'":
                return _literal(default[1:-1])
            missing = True
            return ""
        return _literal(_text(value))

    result = _VARIABLE.sub(fill, text)
    return None if missing else result


def _literal(text: str) -> str:
    return "".join("\x00" + c if c in "*?" else c for c in text)


def condition_holds(
    operator: str, key: str, wanted: tuple[str, ...], keys: RequestKeys, vars_on: bool
) -> bool:
    """Whether one condition (operator, key, its values) holds for the request context `keys`."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    present = _lookup(keys, key)
    if base == "Null":
        return (present is None) == (wanted[0].lower() == "true")
    if present is None:
        return if_exists or base in _NEGATED or qualifier == "ForAllValues"
    values = [_text(v) for v in present] if isinstance(present, list | tuple) else [_text(present)]
    filled = [substitute(w, keys) if vars_on else w for w in wanted]
    patterns = [w for w in filled if w is not None]
    negated = base in _NEGATED
    positive = base.replace("Not", "", 1) if negated else base

    def matches(value: str) -> bool:
        return any(_compare(positive, pattern, value) for pattern in patterns)

    if qualifier == "ForAllValues":
        return all(matches(v) != negated for v in values)
    if qualifier == "ForAnyValue":
        return any(matches(v) != negated for v in values)
    hit = any(matches(v) for v in values)
    return not hit if negated else hit


def _compare(operator: str, pattern: str, value: str) -> bool:
    if operator == "StringEquals":
        return matches(pattern, value, wildcards=False)
    if operator == "StringEqualsIgnoreCase":
        return matches(pattern, value, case=False, wildcards=False)
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return _arn_like(pattern, value) if operator.startswith("Arn") else matches(pattern, value)
    if operator == "Bool":
        return pattern.replace("\x00", "").lower() == value.lower()
    if operator.startswith("Numeric"):
        return _ordered(operator.removeprefix("Numeric"), _number(pattern), _number(value))
    if operator.startswith("Date"):
        return _ordered(operator.removeprefix("Date"), _date(pattern), _date(value))
    if operator == "IpAddress":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(
                pattern.replace("\x00", ""), strict=False
            )
        except ValueError:
            return False
    raise PolicyError(f"condition operator {operator} is not evaluated locally")


def _arn_like(pattern: str, value: str) -> bool:
    """ARN conditions match each of the six colon-separated parts on its own (wildcards allowed)."""
    wanted, got = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(got) == 6 and all(matches(w, g) for w, g in zip(wanted, got, strict=True))


def _ordered(relation: str, wanted: float | None, got: float | None) -> bool:
    if wanted is None or got is None:
        return False
    return {
        "Equals": got == wanted,
        "LessThan": got < wanted,
        "LessThanEquals": got <= wanted,
        "GreaterThan": got > wanted,
        "GreaterThanEquals": got >= wanted,
    }[relation]


def _number(text: str) -> float | None:
    try:
        return float(text.replace("\x00", ""))
    except ValueError:
        return None


def _date(text: str) -> float | None:
    text = text.replace("\x00", "")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
