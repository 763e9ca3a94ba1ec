"""EmitEvent: put a run's "Pipeline Succeeded" or "Pipeline Failed" event on the rsetl bus."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import InputError, failure_summary, pipeline_failed, pipeline_succeeded, put_event
from etl_common.clients import events_client

logger = Logger()
metrics = Metrics()


def build_event(request: dict[str, Any]) -> dict[str, Any]:
    """The event a request asks for: ``outcome`` is ``SUCCEEDED`` (with ``run``) or ``FAILED``."""
    outcome = request.get("outcome")
    if outcome == "SUCCEEDED":
        return pipeline_succeeded(request["run"])
    if outcome == "FAILED":
        return pipeline_failed(
            execution_input=request.get("input"),
            execution_name=request["execution_name"],
            execution_arn=request["execution_arn"],
            caught=request.get("caught") or {},
            run=request.get("run") if isinstance(request.get("run"), dict) else None,
        )
    raise InputError(f"outcome must be SUCCEEDED or FAILED, not {outcome!r}")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns the event id, the event's detail, and for failures the cause for the Fail state."""
    completion = build_event(event)
    event_id = put_event(events_client(), os.environ["EVENT_BUS_NAME"], completion)
    detail = completion["detail"]
    metrics.add_dimension(name="pipeline", value=detail["pipeline"])
    metrics.add_metric(name=f"Runs{detail['state'].title()}", unit=MetricUnit.Count, value=1)
    logger.info(
        "completion event emitted", extra={"event_id": event_id, "detail_type": completion["detail-type"]}
    )
    result: dict[str, Any] = {"event_id": event_id, "detail": detail}
    if detail["state"] == "FAILED":
        result["cause"] = failure_summary(completion)
    return result
