"""IAM policy documents and their evaluation, written from the IAM User Guide.

- "Policy evaluation logic" / "Policy evaluation for requests within a single account"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit Deny in any policy wins; otherwise one Allow, in an identity-based or a
  resource-based policy of the same account, allows; otherwise the request is implicitly denied.
- "IAM JSON policy elements: Condition operators"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
  a key absent from the request context makes a condition false, except for the negated
  operators (true), `...IfExists` (true) and `Null`.
- "IAM policy elements: Variables and tags"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
  `${key}` in Resource and condition values (policy Version 2012-10-17 only), `${key, 'default'}`,
  and `${*}`, `${?}`, `${$}` for the literal characters.

Condition keys are case-insensitive, their values case-sensitive (except `...IgnoreCase`);
action names are case-insensitive, resource ARNs case-sensitive.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from rsetl.iam.exceptions import PolicyError

ContextValue = str | bool | int | float | Sequence[str]
RequestKeys = Mapping[str, ContextValue]
"""The request context: condition key (any case) -> value (a list for multivalued keys)."""

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Principal:
    """Who makes a request, as resource-based policies' `Principal` element matches it."""

    arns: tuple[str, ...] = ()
    """ARNs the principal is known by (an assumed-role session: its role ARN and session ARN)."""
    account: str | None = None
    service: str | None = None
    """A service principal such as `events.amazonaws.com`."""


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document, checked for shape when parsed."""

    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    principal: Any = None
    not_principal: Any = None
    sid: str = ""

    def applies(
        self, action: str, resource: str, keys: RequestKeys, principal: Principal | None, vars_on: bool
    ) -> bool:
        """Whether this statement matches the request (its Effect is then the caller's business)."""
        if self.actions is not None and not any(_matches(p, action, case=False) for p in self.actions):
            return False
        if self.not_actions is not None and any(_matches(p, action, case=False) for p in self.not_actions):
            return False
        if self.resources is not None and not _any_resource(self.resources, resource, keys, vars_on):
            return False
        if self.not_resources is not None and _any_resource(self.not_resources, resource, keys, vars_on):
            return False
        if self.principal is not None and (
            principal is None or not _principal_matches(self.principal, principal)
        ):
            return False
        if (
            self.not_principal is not None
            and principal is not None
            and _principal_matches(self.not_principal, principal)
        ):
            return False
        return all(_condition(op, key, values, keys, vars_on) for op, key, values in self.conditions)


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed policy: its statements, and whether policy variables are on (Version 2012-10-17)."""

    statements: tuple[Statement, ...]
    variables: bool
    name: str = ""

    @classmethod
    def parse(cls, document: Any, name: str = "", *, resource_based: bool = False) -> PolicyDocument:
        """Parse and check a policy document (a JSON object); `name` says where it is in errors."""
        if not isinstance(document, Mapping):
            raise PolicyError(f"{name}: a policy document is a JSON object")
        version = document.get("Version", "2008-10-17")
        if version not in ("2012-10-17", "2008-10-17"):
            raise PolicyError(f"{name}: Version {version!r} is not 2012-10-17 or 2008-10-17")
        raw = document.get("Statement")
        items = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(items, list) or not items:
            raise PolicyError(f"{name}: Statement must be a statement or a non-empty list of them")
        statements = tuple(
            _statement(s, f"{name}.Statement[{i}]", resource_based) for i, s in enumerate(items)
        )
        return cls(statements, version == "2012-10-17", name)

    def decide(
        self, action: str, resource: str, keys: RequestKeys, principal: Principal | None = None
    ) -> Decision:
        """This document alone: explicit deny, allow, or no statement applies (implicit deny)."""
        allowed = False
        for statement in self.statements:
            if statement.applies(action, resource, keys, principal, self.variables):
                if statement.effect == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


@dataclass(frozen=True)
class Evaluation:
    """The outcome of a request and which policy type decided a denial (for AWS's message)."""

    decision: Decision
    denied_by: str = ""
    """`identity-based policy` or `resource-based policy` for an explicit deny."""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def evaluate(
    action: str,
    resource: str,
    keys: RequestKeys,
    *,
    identity_policies: Iterable[PolicyDocument] = (),
    resource_policy: PolicyDocument | None = None,
    principal: Principal | None = None,
) -> Evaluation:
    """The single-account decision over identity-based policies and one resource-based policy."""
    allowed = False
    for policy in identity_policies:
        decision = policy.decide(action, resource, keys)
        if decision is Decision.EXPLICIT_DENY:
            return Evaluation(Decision.EXPLICIT_DENY, "identity-based policy")
        allowed = allowed or decision is Decision.ALLOW
    if resource_policy is not None:
        decision = resource_policy.decide(action, resource, keys, principal)
        if decision is Decision.EXPLICIT_DENY:
            return Evaluation(Decision.EXPLICIT_DENY, "resource-based policy")
        allowed = allowed or decision is Decision.ALLOW
    return Evaluation(Decision.ALLOW if allowed else Decision.IMPLICIT_DENY)


# -- parsing ---------------------------------------------------------------------------------

_STATEMENT_FIELDS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
}


def _statement(raw: Any, where: str, resource_based: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: a statement is a JSON object")
    unknown = sorted(set(raw) - _STATEMENT_FIELDS)
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {', '.join(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where}: exactly one of Action and NotAction is required")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyError(f"{where}: Resource and NotResource cannot both be present")
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if resource_based and not has_principal:
        raise PolicyError(f"{where}: a resource-based policy statement needs Principal or NotPrincipal")
    if not resource_based and has_principal:
        raise PolicyError(f"{where}: an identity-based policy statement cannot have Principal")
    if not resource_based and "Resource" not in raw and "NotResource" not in raw:
        raise PolicyError(f"{where}: Resource or NotResource is required")
    return Statement(
        effect=effect,
        actions=_strings(raw, "Action", where),
        not_actions=_strings(raw, "NotAction", where),
        resources=_strings(raw, "Resource", where),
        not_resources=_strings(raw, "NotResource", where),
        conditions=_conditions(raw.get("Condition"), where),
        principal=raw.get("Principal"),
        not_principal=raw.get("NotPrincipal"),
        sid=str(raw.get("Sid", "")),
    )


def _strings(raw: Mapping[str, Any], name: str, where: str) -> tuple[str, ...] | None:
    if name not in raw:
        return None
    value = raw[name]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}.{name}: a string or a non-empty list of strings, not {value!r}")
    return tuple(values)


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


def _conditions(raw: Any, where: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
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


# -- matching --------------------------------------------------------------------------------


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


def _matches(pattern: str, value: str, *, case: bool = True, wildcards: bool = True) -> bool:
    return _compiled(pattern, case, wildcards).match(value) is not None


def _lookup(keys: RequestKeys, key: str) -> ContextValue | None:
    wanted = key.lower()
    for name, value in keys.items():
        if name.lower() == wanted:
            return value
    return None


def _substitute(text: str, keys: RequestKeys) -> str | None:
    """`text` with its policy variables filled in; None when a variable has no value nor default.

    Wildcards `*` and `?` stay wildcards; a variable's value and `${*}`/`${?}` are literal,
    so they come back escaped as `\\x00` + char, which :func:`_matches` understands.
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


def _any_resource(patterns: Sequence[str], resource: str, keys: RequestKeys, vars_on: bool) -> bool:
    for pattern in patterns:
        filled = _substitute(pattern, keys) if vars_on else pattern
        if filled is not None and _matches(filled, resource):
            return True
    return False


def _principal_matches(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for kind, value in element.items():
        values = value if isinstance(value, list) else [value]
        for wanted in map(str, values):
            if kind == "AWS" and (
                wanted == "*"
                or wanted in principal.arns
                or (
                    principal.account is not None
                    and wanted in (principal.account, f"arn:aws:iam::{principal.account}:root")
                )
            ):
                return True
            if kind == "Service" and principal.service is not None and wanted == principal.service:
                return True
    return False


def _condition(operator: str, key: str, wanted: tuple[str, ...], keys: RequestKeys, vars_on: bool) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    present = _lookup(keys, key)
    if base == "Null":
        return (present is None) == (wanted[0].lower() == "true")
    if present is None:
        return if_exists or base in _NEGATED or qualifier == "ForAllValues"
    values = [_text(v) for v in present] if isinstance(present, list | tuple) else [_text(present)]
    filled = [_substitute(w, keys) if vars_on else w for w in wanted]
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
        return _matches(pattern, value, wildcards=False)
    if operator == "StringEqualsIgnoreCase":
        return _matches(pattern, value, case=False, wildcards=False)
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return _arn_like(pattern, value) if operator.startswith("Arn") else _matches(pattern, value)
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
    return len(wanted) == len(got) == 6 and all(_matches(w, g) for w, g in zip(wanted, got, strict=True))


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
