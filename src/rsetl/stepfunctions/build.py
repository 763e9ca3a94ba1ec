"""Building a definition's typed states, checking it as it goes (once, at CreateStateMachine).

Each state gets the class of its type and the input/output processing of its query language
(a state's `QueryLanguage`, else its machine's or branch's, else JSONPath), holding only the
fields that type reads. A definition that is not valid Amazon States Language raises
:class:`DefinitionError` naming the first problem and where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rsetl.stepfunctions.choice import COMPARISON_OPERATORS, build_condition
from rsetl.stepfunctions.exceptions import DefinitionError
from rsetl.stepfunctions.groups import MapState, ParallelState
from rsetl.stepfunctions.processing import (
    FieldValue,
    JsonataProcessing,
    JsonPathProcessing,
    Processing,
    Template,
)
from rsetl.stepfunctions.recovery import Catcher, Recovery, Retrier
from rsetl.stepfunctions.states import (
    ChoiceRule,
    ChoiceState,
    ComparisonRule,
    ConditionRule,
    FailState,
    PassState,
    Program,
    State,
    SucceedState,
    WaitState,
)
from rsetl.stepfunctions.task import TaskState

JSONATA = "JSONata"
JSONPATH = "JSONPath"
_TERMINAL = frozenset({"Succeed", "Fail", "Choice"})
_RECOVERING = frozenset({"Task", "Parallel", "Map"})
_PROCESSING_FIELDS = {
    # The processing fields each type reads: in JSONPath (besides InputPath and OutputPath) and in
    # JSONata (besides Output). A Fail state reads none of them.
    "Pass": ({"Parameters", "ResultPath", "Assign"}, {"Assign"}),
    "Task": ({"Parameters", "ResultSelector", "ResultPath", "Assign"}, {"Arguments", "Assign"}),
    "Parallel": ({"Parameters", "ResultSelector", "ResultPath", "Assign"}, {"Arguments", "Assign"}),
    "Map": ({"ResultSelector", "ResultPath", "Assign"}, {"Assign"}),
    "Wait": ({"Assign"}, {"Assign"}),
    "Choice": ({"Assign"}, {"Assign"}),
    "Succeed": (set(), set()),
    "Fail": (set(), set()),
}


def build_program(definition: Any, where: str = "$", language: str = JSONPATH) -> Program:
    """The typed states of a (sub-)machine definition; raises DefinitionError on the first problem."""
    if not isinstance(definition, dict):
        raise DefinitionError("A state machine definition must be a JSON object", where)
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        raise DefinitionError("'States' must be a non-empty object", f"{where}.States")
    start = definition.get("StartAt")
    if start not in states:
        raise DefinitionError(f"StartAt {start!r} names no state in States", f"{where}.StartAt")
    language = definition.get("QueryLanguage", language)
    if language not in (JSONPATH, JSONATA):
        raise DefinitionError(
            f"QueryLanguage must be JSONPath or JSONata, got {language!r}", f"{where}.QueryLanguage"
        )
    built = {
        name: _build_state(name, state, states, f"{where}.States.{name}", language)
        for name, state in states.items()
    }
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise DefinitionError("TimeoutSeconds must be a number of seconds", f"{where}.TimeoutSeconds")
    return Program(str(start), built, None if timeout is None else float(timeout))


def _check_target(target: Any, states: Mapping[str, Any], where: str) -> None:
    if target not in states:
        raise DefinitionError(f"Transition to {target!r}, which is not a state in this scope", where)


def _template(state: Mapping[str, Any], name: str) -> Template | None:
    return Template(state[name], name) if name in state else None


def _assign(state: Mapping[str, Any]) -> Template | None:
    # An empty or null Assign assigns nothing.
    return Template(state["Assign"], "Assign") if state.get("Assign") else None


def _processing(kind: str, state: Mapping[str, Any], jsonata: bool) -> Processing:
    jsonpath_fields, jsonata_fields = _PROCESSING_FIELDS[kind]
    if jsonata:
        return JsonataProcessing(
            arguments_template=_template(state, "Arguments") if "Arguments" in jsonata_fields else None,
            output_template=_template(state, "Output") if kind != "Fail" else None,
            assign=_assign(state) if "Assign" in jsonata_fields else None,
        )
    if kind == "Fail":
        return JsonPathProcessing()
    return JsonPathProcessing(
        input_path=state.get("InputPath", "$"),
        parameters=_template(state, "Parameters") if "Parameters" in jsonpath_fields else None,
        result_selector=_template(state, "ResultSelector") if "ResultSelector" in jsonpath_fields else None,
        result_path=state.get("ResultPath", "$") if "ResultPath" in jsonpath_fields else "$",
        output_path=state.get("OutputPath", "$"),
        assign=_assign(state) if "Assign" in jsonpath_fields else None,
    )


def _build_state(name: str, state: Any, states: Mapping[str, Any], where: str, language: str) -> State:
    if not isinstance(state, dict):
        raise DefinitionError(f"State {name!r} must be a JSON object", where)
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        raise DefinitionError(f"State {name!r} has unknown Type {kind!r}", f"{where}.Type")
    following = None
    if kind not in _TERMINAL:
        if state.get("End") is True:
            if "Next" in state:
                raise DefinitionError(f"State {name!r} has both Next and End", where)
        elif "Next" in state:
            _check_target(state["Next"], states, f"{where}.Next")
            following = state["Next"]
        else:
            raise DefinitionError(f'State {name!r} needs Next or "End": true', where)
    language = state.get("QueryLanguage", language)
    jsonata = language == JSONATA
    processing = _processing(kind, state, jsonata)
    fields = _type_fields(kind, name, state, states, where, language, processing)
    # Retry and Catch are checked on every state, though only Task, Parallel and Map use them.
    recovery = _recovery(state, states, where, jsonata)
    if kind in _RECOVERING:
        fields["recovery"] = recovery
    built: State = _CLASSES[kind](name=name, processing=processing, next=following, **fields)
    return built


def _type_fields(
    kind: str,
    name: str,
    state: Mapping[str, Any],
    states: Mapping[str, Any],
    where: str,
    language: str,
    processing: Processing,
) -> dict[str, Any]:
    """The fields of a state's own type, checked."""
    jsonata = language == JSONATA
    if kind == "Task":
        resource = state.get("Resource")
        if not isinstance(resource, str):
            raise DefinitionError(f"Task state {name!r} needs a Resource string", f"{where}.Resource")
        return {
            "resource": resource,
            "waits_for_token": resource.endswith(".waitForTaskToken"),
            "timeout": FieldValue.of(state, "TimeoutSeconds"),
            "heartbeat": FieldValue.of(state, "HeartbeatSeconds"),
        }
    if kind == "Choice":
        return _choice_fields(name, state, states, where, processing, jsonata)
    if kind == "Wait":
        given = [f for f in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if f in state]
        if len(given) != 1:
            raise DefinitionError(
                f"Wait state {name!r} needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                where,
            )
        return {"seconds": FieldValue.of(state, "Seconds"), "timestamp": FieldValue.of(state, "Timestamp")}
    if kind == "Pass":
        return {"result": None if jsonata else _template(state, "Result")}
    if kind == "Fail":
        return {"error": FieldValue.of(state, "Error"), "cause": FieldValue.of(state, "Cause")}
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise DefinitionError(
                f"Parallel state {name!r} needs a non-empty Branches list", f"{where}.Branches"
            )
        return {
            "branches": tuple(
                build_program(branch, f"{where}.Branches[{index}]", language)
                for index, branch in enumerate(branches)
            )
        }
    if kind == "Map":
        return _map_fields(state, where, language)
    return {}


def _choice_fields(
    name: str,
    state: Mapping[str, Any],
    states: Mapping[str, Any],
    where: str,
    processing: Processing,
    jsonata: bool,
) -> dict[str, Any]:
    choices = state.get("Choices")
    if not isinstance(choices, list) or not choices:
        raise DefinitionError(f"Choice state {name!r} needs a non-empty Choices list", f"{where}.Choices")
    rules: list[ChoiceRule] = []
    for index, rule in enumerate(choices):
        _check_target(
            rule.get("Next") if isinstance(rule, dict) else None, states, f"{where}.Choices[{index}].Next"
        )
        _validate_rule(rule, f"{where}.Choices[{index}]")
        # A rule's own Output and Assign take the place of the state's.
        output = _template(rule, "Output")
        assign = _assign(rule if "Assign" in rule else state)
        outcome = processing.with_outcome(output, assign)
        rules.append(
            ConditionRule(rule["Next"], outcome, rule.get("Condition", False))
            if jsonata
            else ComparisonRule(rule["Next"], outcome, build_condition(rule))
        )
    default = None
    if "Default" in state:
        _check_target(state["Default"], states, f"{where}.Default")
        default = state["Default"]
    return {"choices": tuple(rules), "default": default}


def _map_fields(state: Mapping[str, Any], where: str, language: str) -> dict[str, Any]:
    field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    processor = build_program(state.get(field), f"{where}.{field}", language)
    selector = next((f for f in ("ItemSelector", "Parameters") if f in state), None)
    config = state.get("ItemProcessor", {}).get("ProcessorConfig", {})
    return {
        "processor": processor,
        "items": FieldValue.of(state, "Items"),
        "selector": None if selector is None else Template(state[selector], selector),
        "distributed": isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED",
        "tolerated_count": FieldValue.of(state, "ToleratedFailureCount"),
        "tolerated_percentage": FieldValue.of(state, "ToleratedFailurePercentage"),
        "max_concurrency": FieldValue.of(state, "MaxConcurrency"),
    }


def _recovery(state: Mapping[str, Any], states: Mapping[str, Any], where: str, jsonata: bool) -> Recovery:
    """Retry and Catch, each entry with a non-empty ErrorEquals; States.ALL alone and last."""
    built: dict[str, list[Any]] = {"Retry": [], "Catch": []}
    for field in ("Retry", "Catch"):
        entries = state.get(field, [])
        for index, entry in enumerate(entries):
            at = f"{where}.{field}[{index}]"
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("ErrorEquals"), list)
                or not entry["ErrorEquals"]
            ):
                raise DefinitionError(f"{field} entries need a non-empty ErrorEquals list", at)
            if "States.ALL" in entry["ErrorEquals"] and (
                len(entry["ErrorEquals"]) != 1 or index != len(entries) - 1
            ):
                raise DefinitionError(
                    f"States.ALL must appear alone in ErrorEquals, in the last {field} entry",
                    f"{at}.ErrorEquals",
                )
            if field == "Retry":
                built[field].append(_retrier(entry, at))
            else:
                _check_target(entry.get("Next"), states, f"{at}.Next")
                built[field].append(_catcher(entry, jsonata))
    return Recovery(tuple(built["Retry"]), tuple(built["Catch"]))


def _number(entry: Mapping[str, Any], field: str, where: str) -> float | None:
    value = entry.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise DefinitionError(f"{field} must be a number, got {value!r}", f"{where}.{field}")
    return None if value is None else float(value)


def _retrier(entry: Mapping[str, Any], where: str) -> Retrier:
    """A Retry entry; its numbers must be JSON numbers, MaxAttempts an integer ("Handling errors in
    Step Functions workflows", "Retrying after an error",
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
    interval = _number(entry, "IntervalSeconds", where)
    backoff = _number(entry, "BackoffRate", where)
    attempts = entry.get("MaxAttempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise DefinitionError(f"MaxAttempts must be an integer, got {attempts!r}", f"{where}.MaxAttempts")
    return Retrier(
        tuple(entry["ErrorEquals"]),
        interval_seconds=1.0 if interval is None else interval,
        max_attempts=attempts,
        backoff_rate=2.0 if backoff is None else backoff,
        max_delay_seconds=_number(entry, "MaxDelaySeconds", where),
        full_jitter=entry.get("JitterStrategy") == "FULL",
    )


def _catcher(entry: Mapping[str, Any], jsonata: bool) -> Catcher:
    processing: Processing
    if jsonata:
        processing = JsonataProcessing(output_template=_template(entry, "Output"), assign=_assign(entry))
    else:
        processing = JsonPathProcessing(result_path=entry.get("ResultPath", "$"), assign=_assign(entry))
    return Catcher(tuple(entry["ErrorEquals"]), entry["Next"], processing)


_CLASSES: dict[str, type[State]] = {
    "Pass": PassState,
    "Task": TaskState,
    "Choice": ChoiceState,
    "Wait": WaitState,
    "Succeed": SucceedState,
    "Fail": FailState,
    "Parallel": ParallelState,
    "Map": MapState,
}
STATE_TYPES = frozenset(_CLASSES)


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
