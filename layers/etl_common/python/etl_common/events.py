"""Completion events: built from a run, validated against their JSON Schema, put on the bus."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EventValidationError, PutEventsError
from .schemas import validate_document

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "rsetl.pipeline"
PIPELINE_SUCCEEDED = "Pipeline Succeeded"
PIPELINE_FAILED = "Pipeline Failed"
EVENT_SCHEMAS = {
    PIPELINE_SUCCEEDED: "event-pipeline-succeeded",
    PIPELINE_FAILED: "event-pipeline-failed",
}
_MAX_ERROR = 10000
_MAX_PIPELINE = 256


def pipeline_succeeded(run: Mapping[str, Any]) -> dict[str, Any]:
    """The "Pipeline Succeeded" event of a finished run."""
    detail = {
        "pipeline": run["pipeline"],
        "execution_name": run["execution_name"],
        "execution_arn": run["execution_arn"],
        "state": "SUCCEEDED",
        "parameters": dict(run["parameters"]),
        "changes": list(run.get("changes", [])),
    }
    return {"source": SOURCE, "detail-type": PIPELINE_SUCCEEDED, "detail": detail}


def pipeline_failed(
    *,
    execution_input: Any,
    execution_name: str,
    execution_arn: str,
    caught: Mapping[str, Any],
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The "Pipeline Failed" event from the error a Catch caught (``{"Error", "Cause"}``).

    A step failure's Cause is the JSON the step's Fail state gave; anything else (a task
    error before any step, a bad input) is reported with the step as null.
    """
    source = (
        run if run and "pipeline" in run else execution_input if isinstance(execution_input, dict) else {}
    )
    pipeline = source.get("pipeline")
    parameters = source.get("parameters")
    failure = describe_failure(caught)
    detail = {
        "pipeline": str(pipeline)[:_MAX_PIPELINE] if isinstance(pipeline, str) and pipeline else "unknown",
        "execution_name": execution_name,
        "execution_arn": execution_arn,
        "state": "FAILED",
        "parameters": {
            k: v
            for k, v in (parameters if isinstance(parameters, dict) else {}).items()
            if isinstance(v, str | int) and not isinstance(v, bool)
        },
        **failure,
    }
    return {"source": SOURCE, "detail-type": PIPELINE_FAILED, "detail": detail}


def describe_failure(caught: Mapping[str, Any]) -> dict[str, Any]:
    """``step``, ``statement_id``, ``error_type`` and ``error`` of a caught error."""
    error_name = str(caught.get("Error") or "States.TaskFailed")
    cause = _json_object(caught.get("Cause"))
    if cause is not None and "error_type" in cause and "error" in cause:
        nested = _json_object(cause["error"])
        error = str(nested.get("errorMessage", cause["error"])) if nested else str(cause["error"])
        return {
            "step": cause.get("step"),
            "statement_id": cause.get("statement_id"),
            "error_type": str(cause["error_type"]) or error_name,
            "error": error[:_MAX_ERROR] or error_name,
        }
    if cause is not None and "errorMessage" in cause:
        message = str(cause["errorMessage"])
        error_name = str(cause.get("errorType") or error_name)
    else:
        message = str(caught.get("Cause") or error_name)
    return {"step": None, "statement_id": None, "error_type": error_name, "error": message[:_MAX_ERROR]}


def failure_summary(event: Mapping[str, Any]) -> str:
    """One line for the execution's Fail cause: the pipeline, the step and the database error."""
    detail = event["detail"]
    where = f"step {detail['step']!r}" if detail.get("step") else "before any step ran"
    statement = f" (statement {detail['statement_id']})" if detail.get("statement_id") else ""
    return (
        f"pipeline {detail['pipeline']!r} failed {where}{statement}: "
        f"{detail['error_type']}: {detail['error']}"
    )


def validate_event(event: Mapping[str, Any], base: Path | None = None) -> None:
    """Raise ``EventValidationError`` unless ``event`` matches the schema of its detail-type."""
    schema = EVENT_SCHEMAS.get(str(event.get("detail-type")))
    if schema is None:
        raise EventValidationError(
            f"event detail-type {event.get('detail-type')!r} is not one the product emits"
        )
    validate_document(schema, dict(event), f"{event['detail-type']} event", EventValidationError, base)


def put_event(
    client: EventBridgeClient, bus_name: str, event: Mapping[str, Any], base: Path | None = None
) -> str:
    """Validate ``event`` and put it on ``bus_name``; returns the EventBridge event id."""
    validate_event(event, base)
    response = client.put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": bus_name,
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise PutEventsError(
            f"PutEvents refused the {event['detail-type']} event: "
            f"{entry.get('ErrorCode', 'unknown error')}: {entry.get('ErrorMessage', '')}"
        )
    return str(entry["EventId"])


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
