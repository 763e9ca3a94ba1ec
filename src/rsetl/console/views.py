"""What the run page shows, as JSON: pipelines with their last runs, one execution (its state machine
graph, the path it took, each state's entries, the Data API statements of its steps) and the chain of
events and rules around it. Read from the live runtime, which loads the journal at start-up: the
same views after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rsetl.console.history import iso, millis, state_entries, state_graph, taken_edges
from rsetl.eventbridge.delivery import DeliveryRecord
from rsetl.eventbridge.entries import PutEventRecord
from rsetl.stepfunctions.interpreter import Execution
from rsetl.template.pipelines import Pipeline

LAST_RUNS = 5


@dataclass(frozen=True)
class RunSource:
    """Where the views read from (the runtime's services)."""

    pipelines: Mapping[str, Pipeline]
    executions: Callable[[], Iterable[Execution]]
    definition: Callable[[str], Mapping[str, Any]]
    """A state machine ARN's ASL definition."""
    events: Callable[[], list[PutEventRecord]]
    deliveries: Callable[[], list[DeliveryRecord]]
    statements: Callable[[], list[dict[str, Any]]]
    """Data API statements held, each DescribeStatement's answer plus its StatementName."""
    now: Callable[[], datetime]
    virtual_clock: bool


def clock_view(source: RunSource) -> dict[str, Any]:
    return {"now": iso(source.now()), "virtual": source.virtual_clock}


def pipelines_view(source: RunSource) -> dict[str, Any]:
    """The wiring graph (triggers -> pipelines -> downstream pipelines) and each pipeline's last runs."""
    runs: dict[str, list[Execution]] = {}
    for execution in source.executions():
        runs.setdefault(pipeline_of(execution), []).append(execution)
    pipelines = []
    for name, pipeline in source.pipelines.items():
        latest = sorted(runs.get(name, []), key=_started, reverse=True)[:LAST_RUNS]
        pipelines.append(
            {
                "name": name,
                "description": pipeline.description,
                "triggers": [
                    {
                        "rule": t.rule,
                        "kind": t.kind,
                        "summary": t.summary(),
                        "when": t.when(),
                        "upstream": list(t.upstream),
                        "via": list(t.via),
                    }
                    for t in pipeline.triggers
                ],
                "downstream": list(pipeline.downstream),
                "runs": [execution_summary(e, source.now()) for e in latest],
                "runCount": len(runs.get(name, [])),
            }
        )
    return {"clock": clock_view(source), "pipelines": pipelines}


def execution_summary(execution: Execution, now: datetime) -> dict[str, Any]:
    end = execution.stop_date or (now if execution.status == "RUNNING" else None)
    start = execution.start_date
    return {
        "arn": execution.arn,
        "name": execution.name,
        "pipeline": pipeline_of(execution),
        "status": execution.status,
        "startDate": iso(start),
        "stopDate": iso(execution.stop_date),
        "durationMs": millis(start, end),
        "error": execution.error,
        "version": len(execution.history),
    }


def execution_view(source: RunSource, execution: Execution) -> dict[str, Any]:
    """One execution: its machine's graph, the states it entered and how, its statements, its chain."""
    events = list(execution.history.events)
    # An execution keeps only its machine's typed states: the ASL drawn is the machine's.
    nodes, edges = state_graph(source.definition(execution.state_machine_arn))
    states = state_entries(events, source.now())
    return {
        "clock": clock_view(source),
        "execution": {
            **execution_summary(execution, source.now()),
            "cause": execution.cause,
            "input": execution.input,
            "output": execution.output,
        },
        "graph": {"nodes": nodes, "edges": edges},
        "states": states,
        "taken": taken_edges(events, edges),
        "statements": step_statements(source.statements(), execution.name),
        "chain": chain_view(source, execution),
    }


def step_statements(statements: list[dict[str, Any]], execution_name: str) -> list[dict[str, Any]]:
    """The Data API statements of this execution's steps (named `<execution name>.<step>`)."""
    prefix = f"{execution_name}."
    shown = []
    for statement in statements:
        name = str(statement.get("StatementName") or "")
        if not name.startswith(prefix):
            continue
        subs = statement.get("SubStatements") or [statement]
        shown.append(
            {
                "step": name[len(prefix) :],
                "id": statement["Id"],
                "status": statement["Status"],
                "createdAt": iso(statement.get("CreatedAt")),
                "durationMs": _ns_to_ms(statement.get("Duration")),
                "rows": statement.get("ResultRows"),
                "error": statement.get("Error"),
                "sql": [
                    {
                        "text": sub.get("QueryString"),
                        "status": sub.get("Status"),
                        "durationMs": _ns_to_ms(sub.get("Duration")),
                        "rows": sub.get("ResultRows"),
                        "error": sub.get("Error"),
                    }
                    for sub in subs
                ],
            }
        )
    return shown


def chain_view(source: RunSource, execution: Execution) -> list[dict[str, Any]]:
    """The links that led to this execution and those it led to, in order: event -> rule -> execution
    -> its completion event -> rule -> execution. EventBridge does not report which execution a
    delivery started, so a delivery to a state machine is matched to the execution started from its
    payload (the first at or after the delivery not matched yet)."""
    executions = sorted(source.executions(), key=_started)
    events = {record.event_id: record for record in source.events()}
    started_by: dict[str, DeliveryRecord] = {}
    matched: set[str] = set()
    deliveries = source.deliveries()
    for delivery in deliveries:
        if not delivery.target_arn.startswith("arn:aws:states:"):
            continue
        run = _started_execution(delivery, executions, matched)
        if run is not None:
            matched.add(run.arn)
            started_by[run.arn] = delivery
    by_arn = {e.arn: e for e in executions}
    chain: list[dict[str, Any]] = []
    current: Execution | None = execution
    while current is not None and len(chain) < 60:
        segment = [_execution_link(current, source.now())]
        starter = started_by.get(current.arn)
        record = events.get(starter.event_id) if starter is not None else None
        if starter is not None:
            segment.insert(0, _rule_link(starter))
        if record is not None:
            segment.insert(0, _event_link(record))
        chain[:0] = segment
        parent = (record.event.get("detail") or {}).get("execution_arn") if record is not None else None
        current = by_arn.get(str(parent)) if parent else None
    for record in events.values():
        if (record.event.get("detail") or {}).get("execution_arn") != execution.arn:
            continue
        chain.append(_event_link(record))
        for delivery in deliveries:
            if delivery.event_id != record.event_id:
                continue
            chain.append(_rule_link(delivery))
            child = next((arn for arn, d in started_by.items() if d is delivery), None)
            if child is not None:
                chain.append(_execution_link(by_arn[child], source.now()))
    return chain


def _started_execution(
    delivery: DeliveryRecord, executions: list[Execution], matched: set[str]
) -> Execution | None:
    try:
        payload = json.loads(delivery.payload)
    except ValueError:
        return None
    for execution in executions:
        if execution.arn in matched or execution.input != payload:
            continue
        if delivery.created_at is None or execution.start_date is None:
            return execution
        if execution.start_date >= delivery.created_at:
            return execution
    return None


def _event_link(record: PutEventRecord) -> dict[str, Any]:
    detail = record.event.get("detail") or {}
    key = (detail.get("object") or {}).get("key") if isinstance(detail, dict) else None
    return {
        "kind": "event",
        "id": record.event_id,
        "label": f"{record.event.get('source')} · {record.event.get('detail-type')}",
        "detail": key or detail.get("pipeline") if isinstance(detail, dict) else None,
        "time": iso(record.received_at),
        "bus": record.bus_name,
    }


def _rule_link(delivery: DeliveryRecord) -> dict[str, Any]:
    rule = delivery.rule_arn or delivery.schedule_arn or ""
    return {
        "kind": "rule",
        "label": rule.rpartition("/")[2] or rule,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "errors": list(delivery.errors),
        "time": iso(delivery.created_at),
        "durationMs": millis(delivery.created_at, delivery.finished_at),
    }


def _execution_link(execution: Execution, now: datetime) -> dict[str, Any]:
    return {"kind": "execution", **execution_summary(execution, now)}


def pipeline_of(execution: Execution) -> str:
    value = execution.input
    return str(value.get("pipeline", "?")) if isinstance(value, dict) else "?"


def _started(execution: Execution) -> datetime:
    return execution.start_date or datetime.min.replace(tzinfo=UTC)


def _ns_to_ms(value: Any) -> float | None:
    return None if not isinstance(value, int) or value < 0 else round(value / 1e6, 1)
