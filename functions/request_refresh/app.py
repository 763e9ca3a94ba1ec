"""RequestRefresh: on an ingest's "Pipeline Succeeded" event, ask for the views' refresh of its window.

Every request of one window starts the same RefreshViews execution: the execution is named after the
window's end and its input is that end, and StartExecution with the name and input of a running
Standard execution succeeds without starting another (Step Functions API Reference, StartExecution).
That execution waits for the window's end, so every load whose event falls in the window has committed
before it refreshes. A name already closed (its refresh may have failed, or the event came late) hands
the request to the next window.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import InputError
from etl_common.clients import stepfunctions

logger = Logger()
metrics = Metrics()

EXECUTION_PREFIX = "refresh-sales-views-"
WINDOWS_TRIED = 3
"""Windows tried before giving up: the event's, and two later ones if those names are closed."""


def window_end(at: datetime, window_seconds: int) -> datetime:
    """End of the window `[k * window, (k + 1) * window)` (seconds since the epoch) holding `at`."""
    if window_seconds < 1:
        raise InputError(f"REFRESH_WINDOW_SECONDS must be a positive number of seconds, not {window_seconds}")
    seconds = int(at.timestamp()) // window_seconds * window_seconds + window_seconds
    return datetime.fromtimestamp(seconds, UTC)


def event_time(event: dict[str, Any]) -> datetime:
    """The event's `time` (RFC 3339, UTC): when the load it reports had committed."""
    value = event.get("time")
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(
            f"event time must be RFC 3339 UTC like 2026-11-08T02:00:00Z, not {value!r}"
        ) from None


def request_refresh(client: Any, machine_arn: str, at: datetime, window_seconds: int) -> dict[str, Any]:
    """Start (or join) the RefreshViews execution of the window holding `at`; its name and window end."""
    end = window_end(at, window_seconds)
    for _ in range(WINDOWS_TRIED):
        stamp = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        name = EXECUTION_PREFIX + end.strftime("%Y%m%dT%H%M%SZ")
        try:
            started = client.start_execution(
                stateMachineArn=machine_arn, name=name, input=json.dumps({"window_end": stamp})
            )
        except client.exceptions.ExecutionAlreadyExists:
            logger.info("window's refresh already closed: next window", extra={"execution_name": name})
            end += timedelta(seconds=window_seconds)
            continue
        return {"execution_arn": started["executionArn"], "window_end": stamp}
    raise RuntimeError(f"the RefreshViews executions of {WINDOWS_TRIED} windows up to {name} are all closed")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="detail.execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: the EventBridge "Pipeline Succeeded" event of an ingest pipeline."""
    result = request_refresh(
        stepfunctions(),
        os.environ["REFRESH_STATE_MACHINE_ARN"],
        event_time(event),
        int(os.environ["REFRESH_WINDOW_SECONDS"]),
    )
    metrics.add_metric(name="RefreshesRequested", unit=MetricUnit.Count, value=1)
    logger.info("refresh requested", extra=result)
    return result
