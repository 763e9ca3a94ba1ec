"""IAM policy documents and their evaluation, written from the IAM User Guide.

- "Policy evaluation logic" / "Policy evaluation for requests within a single account"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit Deny in any policy wins; otherwise one Allow, in an identity-based or a
  resource-based policy of the same account, allows; otherwise the request is implicitly denied.

Condition keys are case-insensitive, their values case-sensitive (except `...IgnoreCase`);
action names are case-insensitive, resource ARNs case-sensitive.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rsetl.iam.conditions import (
    RequestKeys,
    condition_holds,
    matches,
    parse_conditions,
    substitute,
)
from rsetl.iam.exceptions import PolicyError


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
        if self.actions is not None and not any(matches(p, action, case=False) for p in self.actions):
            return False
        if self.not_actions is not None and any(matches(p, action, case=False) for p in self.not_actions):
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
        return all(condition_holds(op, key, values, keys, vars_on) for op, key, values in self.conditions)


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
        conditions=parse_conditions(raw.get("Condition"), where),
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


# -- matching --------------------------------------------------------------------------------


def _any_resource(patterns: Sequence[str], resource: str, keys: RequestKeys, vars_on: bool) -> bool:
    for pattern in patterns:
        filled = substitute(pattern, keys) if vars_on else pattern
        if filled is not None and matches(filled, resource):
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
