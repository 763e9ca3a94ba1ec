"""Loading and checking state machine definitions (Amazon States Language)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rsetl.stepfunctions.choice import COMPARISON_OPERATORS
from rsetl.stepfunctions.exceptions import DefinitionError

STATE_TYPES = frozenset({"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})
_TERMINAL = frozenset({"Succeed", "Fail", "Choice"})
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def substitute(text: str, substitutions: Mapping[str, Any]) -> str:
    """Fill `${Name}` placeholders as DefinitionSubstitutions does; unknown names are an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise DefinitionError(f"No DefinitionSubstitutions value for placeholder ${{{name}}}", "$")
        return str(substitutions[name])

    return _PLACEHOLDER.sub(replace, text)


def load_definition(text: str, substitutions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parse and validate a definition, filling placeholders first when given."""
    if substitutions is not None:
        text = substitute(text, substitutions)
    try:
        definition = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"The definition is not valid JSON: {exc}") from None
    validate_definition(definition)
    return definition


def validate_definition(definition: Any, where: str = "$") -> None:
    """Raise DefinitionError naming the first problem found in a (sub-)machine definition."""
    if not isinstance(definition, dict):
        raise DefinitionError("A state machine definition must be a JSON object", where)
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError("'States' must be a non-empty object", f"{where}.States")
    start = definition.get("StartAt")
    if start not in states:
        raise DefinitionError(f"StartAt {start!r} names no state in States", f"{where}.StartAt")
    language = definition.get("QueryLanguage", "JSONPath")
    if language not in ("JSONPath", "JSONata"):
        raise DefinitionError(
            f"QueryLanguage must be JSONPath or JSONata, got {language!r}", f"{where}.QueryLanguage"
        )
    for name, state in states.items():
        _validate_state(name, state, states, f"{where}.States.{name}")


def _check_target(target: Any, states: Mapping[str, Any], where: str) -> None:
    if target not in states:
        raise DefinitionError(f"Transition to {target!r}, which is not a state in this scope", where)


def _validate_state(name: str, state: Any, states: Mapping[str, Any], where: str) -> None:
    if not isinstance(state, dict):
        raise DefinitionError(f"State {name!r} must be a JSON object", where)
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        raise DefinitionError(f"State {name!r} has unknown Type {kind!r}", f"{where}.Type")
    if kind not in _TERMINAL:
        if state.get("End") is True:
            if "Next" in state:
                raise DefinitionError(f"State {name!r} has both Next and End", where)
        elif "Next" in state:
            _check_target(state["Next"], states, f"{where}.Next")
        else:
            raise DefinitionError(f'State {name!r} needs Next or "End": true', where)
    if kind == "Task" and not isinstance(state.get("Resource"), str):
        raise DefinitionError(f"Task state {name!r} needs a Resource string", f"{where}.Resource")
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise DefinitionError(f"Choice state {name!r} needs a non-empty Choices list", f"{where}.Choices")
        for index, rule in enumerate(choices):
            _check_target(
                rule.get("Next") if isinstance(rule, dict) else None, states, f"{where}.Choices[{index}].Next"
            )
            _validate_rule(rule, f"{where}.Choices[{index}]")
        if "Default" in state:
            _check_target(state["Default"], states, f"{where}.Default")
    if kind == "Wait":
        given = [f for f in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if f in state]
        if len(given) != 1:
            raise DefinitionError(
                f"Wait state {name!r} needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                where,
            )
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise DefinitionError(
                f"Parallel state {name!r} needs a non-empty Branches list", f"{where}.Branches"
            )
        for index, branch in enumerate(branches):
            validate_definition(branch, f"{where}.Branches[{index}]")
    if kind == "Map":
        field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        validate_definition(state.get(field), f"{where}.{field}")
    for field in ("Retry", "Catch"):
        for index, entry in enumerate(state.get(field, [])):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("ErrorEquals"), list)
                or not entry["ErrorEquals"]
            ):
                raise DefinitionError(
                    f"{field} entries need a non-empty ErrorEquals list", f"{where}.{field}[{index}]"
                )
            if "States.ALL" in entry["ErrorEquals"] and (
                len(entry["ErrorEquals"]) != 1 or index != len(state[field]) - 1
            ):
                raise DefinitionError(
                    f"States.ALL must appear alone in ErrorEquals, in the last {field} entry",
                    f"{where}.{field}[{index}].ErrorEquals",
                )
            if field == "Catch":
                _check_target(entry.get("Next"), states, f"{where}.Catch[{index}].Next")


def _validate_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise DefinitionError("A Choice rule must be a JSON object", where)
    if "Condition" in rule:
        return
    for combinator in ("And", "Or"):
        if combinator in rule:
            for index, sub in enumerate(rule[combinator]):
                _validate_rule(sub, f"{where}.{combinator}[{index}]")
            return
    if "Not" in rule:
        _validate_rule(rule["Not"], f"{where}.Not")
        return
    if not any(key in COMPARISON_OPERATORS for key in rule):
        raise DefinitionError("A Choice rule needs a comparison operator, And, Or, Not or Condition", where)
    if "Variable" not in rule:
        raise DefinitionError("A Choice rule comparison needs a Variable", where)
