"""The template's `Rules` section, evaluated against the parameter values before anything is created.

CloudFormation template Rules syntax
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html) and
Rule functions (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html):
a rule whose `RuleCondition` is false is skipped; otherwise every `Assert` must be true, or the stack
operation fails with the assertion's `AssertDescription`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rsetl.template.parameters import ParameterValidationError


class RuleEvaluator:
    """Evaluates the rule-specific intrinsic functions over parameter and pseudo-parameter values."""

    def __init__(
        self,
        declared: Mapping[str, Any],
        values: Mapping[str, str | list[str]],
        pseudo: Mapping[str, str],
    ) -> None:
        self._declared = declared
        self._values = values
        self._pseudo = pseudo
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Fn::And": self._and,
            "Fn::Or": self._or,
            "Fn::Not": self._not,
            "Fn::Equals": self._equals,
            "Fn::Contains": self._contains,
            "Fn::EachMemberEquals": self._each_member_equals,
            "Fn::EachMemberIn": self._each_member_in,
            "Fn::RefAll": self._ref_all,
            "Fn::ValueOf": self._attribute_lookup,
            "Fn::ValueOfAll": self._attribute_lookup,
            "Fn::If": self._if,
            "Ref": self._ref,
        }

    def check(self, rules: Mapping[str, Any]) -> None:
        """Raise :class:`ParameterValidationError` with the first failed assertion's description."""
        for name, rule in (rules or {}).items():
            where = f"Rules.{name}"
            if not isinstance(rule, Mapping) or not isinstance(rule.get("Assertions"), list):
                raise ParameterValidationError(f"{where}: a rule needs an Assertions list")
            if "RuleCondition" in rule and not self._truth(rule["RuleCondition"], f"{where}.RuleCondition"):
                continue
            for index, assertion in enumerate(rule["Assertions"]):
                at = f"{where}.Assertions[{index}]"
                if not isinstance(assertion, Mapping) or "Assert" not in assertion:
                    raise ParameterValidationError(f"{at}: an assertion needs Assert")
                if not self._truth(assertion["Assert"], f"{at}.Assert"):
                    description = assertion.get("AssertDescription") or f"Assertion failed for rule {name}"
                    raise ParameterValidationError(f"{description} ({at})")

    def evaluate(self, value: Any, where: str) -> Any:
        """The value of a rule expression: a string, a list of strings or a boolean."""
        if isinstance(value, list):
            return [self.evaluate(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            if len(value) != 1:
                raise ParameterValidationError(f"{where}: expected one rule function, got {sorted(value)}")
            ((key, arg),) = value.items()
            function = self._functions.get(key)
            if function is None:
                raise ParameterValidationError(
                    f"{where}: {key} is not a rule-specific intrinsic function "
                    f"(allowed: {', '.join(self._functions)})"
                )
            return function(arg, f"{where}.{key}")
        if isinstance(value, bool):
            return value
        return str(value)

    def _truth(self, value: Any, where: str) -> bool:
        result = self.evaluate(value, where)
        if not isinstance(result, bool):
            raise ParameterValidationError(f"{where}: a rule condition or assertion must be true or false")
        return result

    def _arguments(self, arg: Any, where: str, count: int) -> list[Any]:
        if not isinstance(arg, list) or len(arg) != count:
            raise ParameterValidationError(f"{where}: takes a list of {count} arguments")
        return arg

    def _strings(self, value: Any, where: str) -> list[str]:
        result = self.evaluate(value, where)
        if not isinstance(result, list) or not all(isinstance(item, str) for item in result):
            raise ParameterValidationError(f"{where}: expected a list of strings")
        return result

    def _string(self, value: Any, where: str) -> str:
        result = self.evaluate(value, where)
        if not isinstance(result, str):
            raise ParameterValidationError(f"{where}: expected a string")
        return result

    def _and(self, arg: Any, where: str) -> bool:
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise ParameterValidationError(f"{where}: takes 2 to 10 conditions")
        return all([self._truth(item, f"{where}[{i}]") for i, item in enumerate(arg)])

    def _or(self, arg: Any, where: str) -> bool:
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise ParameterValidationError(f"{where}: takes 2 to 10 conditions")
        return any([self._truth(item, f"{where}[{i}]") for i, item in enumerate(arg)])

    def _not(self, arg: Any, where: str) -> bool:
        (condition,) = self._arguments(arg, where, 1)
        return not self._truth(condition, f"{where}[0]")

    def _equals(self, arg: Any, where: str) -> bool:
        left, right = (
            self.evaluate(item, f"{where}[{i}]") for i, item in enumerate(self._arguments(arg, where, 2))
        )
        return bool(left == right)

    def _contains(self, arg: Any, where: str) -> bool:
        strings, string = self._arguments(arg, where, 2)
        return self._string(string, f"{where}[1]") in self._strings(strings, f"{where}[0]")

    def _each_member_equals(self, arg: Any, where: str) -> bool:
        strings, string = self._arguments(arg, where, 2)
        expected = self._string(string, f"{where}[1]")
        return all(member == expected for member in self._strings(strings, f"{where}[0]"))

    def _each_member_in(self, arg: Any, where: str) -> bool:
        to_check, allowed = self._arguments(arg, where, 2)
        permitted = self._strings(allowed, f"{where}[1]")
        return all(member in permitted for member in self._strings(to_check, f"{where}[0]"))

    def _ref_all(self, arg: Any, where: str) -> list[str]:
        kind = str(arg)
        values: list[str] = []
        for name, spec in self._declared.items():
            if str(spec.get("Type", "String")) == kind:
                value = self._values[name]
                values.extend(value if isinstance(value, list) else [value])
        return values

    def _attribute_lookup(self, arg: Any, where: str) -> Any:
        raise ParameterValidationError(
            f"{where}: reads attributes of AWS resources named by AWS-specific parameter types, "
            "which the local runtime cannot look up"
        )

    def _if(self, arg: Any, where: str) -> Any:
        raise ParameterValidationError(
            f"{where}: the local runtime does not evaluate Fn::If in Rules; CloudFormation has been seen "
            "to refuse it there (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/921)"
        )

    def _ref(self, name: Any, where: str) -> str | list[str]:
        if name in self._values:
            return self._values[name]
        if name in self._pseudo:
            return self._pseudo[name]
        raise ParameterValidationError(f"{where}: Ref to {name!r}, which is not a parameter")
