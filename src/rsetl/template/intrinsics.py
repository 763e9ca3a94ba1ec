"""Resolution of CloudFormation intrinsic functions against local names."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from rsetl.template.exceptions import TemplateError
from rsetl.template.naming import Place, physical_identity

NO_VALUE = object()
"""What `Ref: AWS::NoValue` resolves to: the enclosing property is dropped."""

_NAME_KEYS = (
    "FunctionName", "LayerName", "StateMachineName", "Name", "EventBusName", "GroupName",
    "BucketName", "QueueName", "TopicName", "RoleName", "LogGroupName",
)  # fmt: skip
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class Resolver:
    """Evaluates `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::If` and friends in one template."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any], place: Place) -> None:
        self._resources: Mapping[str, Any] = template.get("Resources", {})
        self._conditions: Mapping[str, Any] = template.get("Conditions", {})
        self._mappings: Mapping[str, Any] = template.get("Mappings", {})
        self._parameters = dict(parameters)
        self._place = place
        self._identities: dict[str, tuple[str, dict[str, str]]] = {}
        self._condition_values: dict[str, bool] = {}
        self._in_progress: set[str] = set()

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        place = self._place
        return {
            "AWS::Region": place.region,
            "AWS::AccountId": place.account_id,
            "AWS::StackName": place.stack_name,
            "AWS::StackId": place.arn("cloudformation", f"stack/{place.stack_name}/local"),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        if name not in self._condition_values:
            if name not in self._conditions:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._condition_values[name] = bool(self.resolve(self._conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    def identity(self, logical_id: str) -> tuple[str, dict[str, str]]:
        """`Ref` value and attributes of a resource, computed from its (resolved) name properties."""
        if logical_id not in self._identities:
            if logical_id in self._in_progress:
                raise TemplateError(f"circular reference through the name of resource {logical_id}")
            self._in_progress.add(logical_id)
            resource = self._resources[logical_id]
            props = resource.get("Properties", {}) or {}
            names = {
                key: self.resolve(props[key], f"Resources.{logical_id}.Properties.{key}")
                for key in _NAME_KEYS
                if key in props
            }
            self._identities[logical_id] = physical_identity(resource["Type"], logical_id, names, self._place)
            self._in_progress.discard(logical_id)
        return self._identities[logical_id]

    def resolve(self, value: Any, where: str = "") -> Any:
        """Resolve every intrinsic inside `value`; `where` names the place for error messages."""
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg, where)
        resolved = {k: self.resolve(v, f"{where}.{k}" if where else k) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _intrinsic(self, key: str, arg: Any, where: str) -> Any:
        handler = getattr(self, "_fn_" + key.removeprefix("Fn::").lower(), None)
        if handler is None:
            raise TemplateError(f"{where}: {key} is not supported by the local runtime")
        return handler(arg, where)

    def _fn_ref(self, name: Any, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self._resources:
            return self.identity(name)[0]
        raise TemplateError(f"{where}: Ref to {name!r}, which is neither a parameter nor a resource")

    def _fn_getatt(self, arg: Any, where: str) -> Any:
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else self.resolve(arg, where)
        if logical_id not in self._resources:
            raise TemplateError(f"{where}: Fn::GetAtt of unknown resource {logical_id!r}")
        attributes = self.identity(logical_id)[1]
        if attribute not in attributes:
            raise TemplateError(
                f"{where}: {logical_id} ({self._resources[logical_id]['Type']}) has no attribute "
                f"{attribute!r} locally (known: {', '.join(sorted(attributes))})"
            )
        return attributes[attribute]

    def _fn_sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1], where)
        else:
            text, variables = arg, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self._resources:
                return str(self._fn_getatt(name, where))
            return str(self._fn_ref(name, where))

        return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")

    def _fn_join(self, arg: Any, where: str) -> str:
        delimiter, items = arg[0], self.resolve(arg[1], where)
        return str(delimiter).join(str(item) for item in items)

    def _fn_select(self, arg: Any, where: str) -> Any:
        index, items = self.resolve(arg[0], where), self.resolve(arg[1], where)
        return items[int(index)]

    def _fn_split(self, arg: Any, where: str) -> list[str]:
        return str(self.resolve(arg[1], where)).split(arg[0])

    def _fn_if(self, arg: Any, where: str) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false, where)

    def _fn_equals(self, arg: Any, where: str) -> bool:
        left, right = (self.resolve(item, where) for item in arg)
        return str(left) == str(right)

    def _fn_and(self, arg: Any, where: str) -> bool:
        return all(self.resolve(item, where) for item in arg)

    def _fn_or(self, arg: Any, where: str) -> bool:
        return any(self.resolve(item, where) for item in arg)

    def _fn_not(self, arg: Any, where: str) -> bool:
        return not self.resolve(arg[0], where)

    def _fn_condition(self, name: Any, where: str) -> bool:
        return self.condition(name)

    def _fn_findinmap(self, arg: Any, where: str) -> Any:
        mapping, first, second = (self.resolve(item, where) for item in arg)
        try:
            return self._mappings[mapping][first][second]
        except KeyError:
            raise TemplateError(f"{where}: Fn::FindInMap found no {mapping}.{first}.{second}") from None

    def _fn_base64(self, arg: Any, where: str) -> str:
        return base64.b64encode(str(self.resolve(arg, where)).encode()).decode()

    def _fn_getazs(self, arg: Any, where: str) -> list[str]:
        return [f"{self._place.region}{zone}" for zone in "abc"]
