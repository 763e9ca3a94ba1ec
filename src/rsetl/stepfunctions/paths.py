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
    """A path selected nothing in the data it was applied to.

    `reason` is what AWS's path engine says, e.g. "No results for path: $['a']".
    """

    def __init__(self, path: str, reason: str = "") -> None:
        super().__init__(path)
        self.path = path
        self.reason = reason or f"No results for path: {path}"


# One step of a definite path: `.name`, `['name']` / `["name"]` or `[index]`.
_STEP = re.compile(
    r"""\.(?P<dotted>[^.\[\]*'"()?@,: ]+)"""
    r"""|\['(?P<single>(?:\\'|[^'])*)'\]"""
    r"""|\["(?P<double>(?:\\"|[^"])*)"\]"""
    r"""|\[(?P<index>-?\d+)\]"""
)


def _definite_steps(path: str) -> list[str | int] | None:
    """The steps of a path made only of names and indexes (`$.a['b'][0]`); None for any other path.

    Inside a quoted name only the quote itself is escaped (`\\'`); any other backslash stays,
    as AWS reads `$['Test\\"Name']` as the field `Test\\"Name`.
    """
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            return None
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("single") is not None:
            steps.append(match.group("single").replace("\\'", "'"))
        elif match.group("double") is not None:
            steps.append(match.group("double").replace('\\"', '"'))
        else:
            steps.append(match.group("dotted"))
        position = match.end()
    return steps


def _normalized(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f"['{step}']" for step in steps)


def _walk(steps: list[str | int], data: Any, shown: str) -> Any:
    """Follow definite steps; a missing leaf is "No results", a missing parent "Missing property"."""
    value = data
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise PathNotFound(shown, f"No results for path: {_normalized(steps)}")
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, dict) and not last:
            raise PathNotFound(shown, f"Missing property in path {_normalized(steps[: position + 1])}")
        else:
            raise PathNotFound(shown, f"No results for path: {_normalized(steps)}")
    return value


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
    steps = _definite_steps(path)
    if steps is not None:
        return _walk(steps, data, shown)
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
    a path that selects nothing fails the execution (States.Runtime), as on AWS.
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
        raise missing_field_path(exc.path, key, data) from None


def missing_field_path(path: str, field: str, data: Any) -> StatesError:
    """A path in a payload template, ErrorPath or CausePath that selects nothing.

    AWS fails the execution with States.Runtime, quoting the state's input even for `$$` paths.
    """
    return StatesError(
        "States.Runtime",
        f"The JSONPath '{path}' specified for the field '{field}' could not be found in the input "
        f"'{_compact(data)}'",
    )


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
