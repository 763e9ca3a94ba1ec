"""An execution's history read against its state machine: the graph of the ASL (Map and Parallel
states holding their inner states), each state's entries with their timings, retries and failures,
and the transitions the execution made."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def state_graph(definition: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes (Map and Parallel hold their inner states as children) and transitions of an ASL."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def walk(machine: Mapping[str, Any], parent: str | None) -> None:
        states = machine.get("States") or {}
        for name, state in states.items():
            kind = str(state.get("Type"))
            nodes.append(
                {
                    "id": name,
                    "type": kind,
                    "parent": parent,
                    "start": name == machine.get("StartAt"),
                    "end": bool(state.get("End")) or kind in ("Succeed", "Fail"),
                }
            )
            for target, label in _transitions(state):
                edges.append({"from": name, "to": target, "label": label})
            if kind == "Map":
                walk(state.get("ItemProcessor") or state.get("Iterator") or {}, name)
            elif kind == "Parallel":
                for index, branch in enumerate(state.get("Branches") or []):
                    branch_id = f"{name} branch {index + 1}"
                    nodes.append({"id": branch_id, "type": "Branch", "parent": name})
                    walk(branch, branch_id)

    walk(definition, None)
    return nodes, edges


def _transitions(state: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    if state.get("Next"):
        yield str(state["Next"]), ""
    for choice in state.get("Choices") or []:
        if choice.get("Next"):
            yield str(choice["Next"]), "choice"
    if state.get("Default"):
        yield str(state["Default"]), "default"
    for catcher in state.get("Catch") or []:
        yield str(catcher["Next"]), "catch"


def state_entries(events: list[dict[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
    """Each state entered: how often, its first entry and its total time, and every entry's input,
    output, retries (a task scheduled again in the same entry) and failures, each `retried` (a retry
    followed), `caught` (the state still exited: a Catch took it) or `uncaught`. A failed Map or
    Parallel ends its entry without an exit."""
    states: dict[str, dict[str, Any]] = {}
    open_entries: list[dict[str, Any]] = []
    for event in events:
        kind = str(event["type"])
        moment = event["timestamp"]
        if "stateEnteredEventDetails" in event:
            details = event["stateEnteredEventDetails"]
            entry = {
                "state": details["name"],
                "entered": iso(moment),
                "exited": None,
                "durationMs": None,
                "input": parsed_json(details.get("input")),
                "output": None,
                "retries": 0,
                "failures": [],
                "_start": moment,
                "_type": kind.removesuffix("StateEntered"),
            }
            state = states.setdefault(
                details["name"], {"count": 0, "firstEntered": entry["entered"], "totalMs": 0, "entries": []}
            )
            state["count"] += 1
            state["entries"].append(entry)
            if kind == "FailStateEntered":
                entry.update(exited=entry["entered"], durationMs=0)  # a Fail state ends as it is entered
            else:
                open_entries.append(entry)
        elif "stateExitedEventDetails" in event:
            details = event["stateExitedEventDetails"]
            exiting = _latest_open(open_entries, details["name"])
            if exiting is not None:
                exiting.update(exited=iso(moment), output=parsed_json(details.get("output")))
                exiting["durationMs"] = millis(exiting["_start"], moment)
                _settle_failures(exiting, "caught")
                open_entries.remove(exiting)
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled") and open_entries:
            entry = open_entries[-1]
            entry["_scheduled"] = entry.get("_scheduled", 0) + 1
            entry["retries"] = entry["_scheduled"] - 1
            _settle_failures(entry, "retried")
        elif kind.endswith(_FAILURE_SUFFIXES) and not kind.startswith(("Execution", "MapIteration")):
            failure: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            failing = _failing_entry(open_entries, kind)
            if failing is not None:
                failing["failures"].append(
                    {
                        "type": kind,
                        "error": failure.get("error"),
                        "cause": failure.get("cause"),
                        "outcome": None,
                    }
                )
                if failing["_type"] in ("Map", "Parallel"):
                    # Its entry ends here; it exits later only when a Catch takes the failure.
                    failing.update(ended=iso(moment), durationMs=millis(failing["_start"], moment))
    for state in states.values():
        for entry in state["entries"]:
            start = entry.pop("_start")
            entry.pop("_type")
            entry.pop("_scheduled", None)
            if entry["exited"] is None and "ended" not in entry:
                entry["runningMs"] = millis(start, now)
            state["totalMs"] += entry["durationMs"] or 0
            _settle_failures(entry, "uncaught")
    return states


def _settle_failures(entry: dict[str, Any], outcome: str) -> None:
    for failure in entry["failures"]:
        if failure["outcome"] is None:
            failure["outcome"] = outcome


def _failing_entry(entries: list[dict[str, Any]], event_type: str) -> dict[str, Any] | None:
    """The open entry a failure event is of: the latest Map or Parallel for theirs, else the latest Task."""
    wanted = next((k for k in ("Map", "Parallel") if event_type.startswith(k + "State")), "Task")
    for entry in reversed(entries):
        if entry["_type"] == wanted and "ended" not in entry:
            return entry
    return None


def _latest_open(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for entry in reversed(entries):
        if entry["state"] == name:
            return entry
    return None


def taken_edges(events: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[list[str]]:
    """Transitions this execution made: each entered state's nearest earlier state with an edge to it."""
    sources: dict[str, set[str]] = {}
    for edge in edges:
        sources.setdefault(edge["to"], set()).add(edge["from"])
    taken: set[tuple[str, str]] = set()
    seen: list[str] = []
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details is None:
            continue
        name = details["name"]
        if "stateEnteredEventDetails" in event:
            candidates = sources.get(name, set())
            for earlier in reversed(seen):
                if earlier in candidates:
                    taken.add((earlier, name))
                    break
        seen.append(name)
    return sorted([a, b] for a, b in taken)


def parsed_json(text: Any) -> Any:
    """A JSON text parsed (history details hold JSON texts); anything else as it is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def millis(start: datetime | None, end: datetime | None) -> int | None:
    """Whole milliseconds from `start` to `end` (None unless both are known)."""
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)
