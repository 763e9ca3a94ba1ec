"""JSONPath processing: reference paths, payload templates and ResultPath.

Paths are evaluated with jsonpath-ng. A path starting with `$$` reads the context object,
`$name` reads a workflow variable, `$` reads the state's data.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

from rsetl.stepfunctions.exceptions import StatesError

_VARIABLE_PATH = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.DOTALL)
# Paths whose result is a list of matches rather than one value.
_INDEFINITE = re.compile(r"\*|\.\.|\[\?|\[[^\]]*[:,][^\]]*\]")


class PathNotFound(LookupError):
    """A path selected nothing in the data it was applied to."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@lru_cache(maxsize=4096)
def compile_path(path: str) -> JSONPath:
    """Parse a JSONPath once; a malformed path is States.Runtime naming the path."""
    try:
        return parse_jsonpath(path)
    except (JsonPathParserError, Exception) as exc:
        raise StatesError("States.Runtime", f"Invalid JSONPath {path!r}: {exc}") from None


def is_path(value: Any) -> bool:
    """True for strings that are JSONPaths (`$...`)."""
    return isinstance(value, str) and value.startswith("$")


def read_path(
    path: str,
    data: Any,
    context: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Value selected by `path`; raises PathNotFound when nothing matches."""
    if path.startswith("$$"):
        return _select("$" + path[2:], context or {}, path)
    variable = _VARIABLE_PATH.match(path)
    if variable:
        name, rest = variable.groups()
        if variables is None or name not in variables:
            raise PathNotFound(path)
        return _select("$" + rest, variables[name], path)
    return _select(path, data, path)


def _select(path: str, data: Any, shown: str) -> Any:
    if path == "$":
        return data
    matches = [match.value for match in compile_path(path).find(data)]
    if _INDEFINITE.search(path):
        return matches
    if not matches:
        raise PathNotFound(shown)
    return matches[0]


IntrinsicEvaluator = Callable[[str, Any, Mapping[str, Any], Mapping[str, Any]], Any]


def render_payload_template(
    template: Any,
    data: Any,
    context: Mapping[str, Any],
    variables: Mapping[str, Any],
    evaluate_intrinsic: IntrinsicEvaluator,
    field: str,
) -> Any:
    """Fill a Parameters / ResultSelector / ItemSelector template.

    Keys ending in `.$` take their value from a path or an intrinsic function call;
    a path that selects nothing is States.ParameterPathFailure, as on AWS.
    """
    if isinstance(template, dict):
        rendered: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                rendered[key[:-2]] = _dynamic_value(
                    key, value, data, context, variables, evaluate_intrinsic, field
                )
            else:
                rendered[key] = render_payload_template(
                    value, data, context, variables, evaluate_intrinsic, field
                )
        return rendered
    if isinstance(template, list):
        return [
            render_payload_template(item, data, context, variables, evaluate_intrinsic, field)
            for item in template
        ]
    return copy.deepcopy(template)


def _dynamic_value(
    key: str,
    value: Any,
    data: Any,
    context: Mapping[str, Any],
    variables: Mapping[str, Any],
    evaluate_intrinsic: IntrinsicEvaluator,
    field: str,
) -> Any:
    if not isinstance(value, str):
        raise StatesError(
            "States.Runtime",
            f"The value for the field '{key}' in {field} must be a JSONPath or an intrinsic function, "
            f"got {value!r}",
        )
    if value.startswith("States."):
        return evaluate_intrinsic(value, data, context, variables)
    try:
        return copy.deepcopy(read_path(value, data, context, variables))
    except PathNotFound as exc:
        shown = context if value.startswith("$$") else data
        raise StatesError(
            "States.ParameterPathFailure",
            f"The JSONPath '{exc.path}' specified for the field '{key}' could not be found in the input "
            f"'{_compact(shown)}'",
        ) from None


def apply_result_path(state_input: Any, result: Any, result_path: str | None, *, absent: bool) -> Any:
    """Combine a state's input and its result as ResultPath says.

    `absent` means the field is not in the definition (result replaces input);
    `result_path is None` means `"ResultPath": null` (input passes through).
    """
    if absent or result_path == "$":
        return result
    if result_path is None:
        return state_input
    target = copy.deepcopy(state_input)
    try:
        compile_path(result_path).update_or_create(target, result)
    except (TypeError, AttributeError, IndexError, KeyError) as exc:
        raise StatesError(
            "States.ResultPathMatchFailure",
            f'Unable to apply ResultPath "{result_path}" to input "{_compact(state_input)}": {exc}',
        ) from None
    if not isinstance(target, dict):
        raise StatesError(
            "States.ResultPathMatchFailure",
            f'Unable to apply ResultPath "{result_path}" to input "{_compact(state_input)}"',
        )
    return target


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
