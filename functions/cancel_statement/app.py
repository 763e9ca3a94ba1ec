"""CancelStatement: cancel a statement that ran past its step's time budget, or every statement a
failed run leaves running."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import cancel_running_statements, cancel_step
from etl_common.clients import redshift_data

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: ``statement`` (the timed-out step's statement state), or ``running_of_execution``
    (the name of a failed execution whose running statements are all cancelled)."""
    if "running_of_execution" in event:
        cancelled = cancel_running_statements(redshift_data(), execution_name=event["running_of_execution"])
        metrics.add_metric(
            name="StatementsCancelledAfterFailure", unit=MetricUnit.Count, value=len(cancelled)
        )
        logger.warning("cancelled the statements a failed run left running", extra={"cancelled": cancelled})
        return {"cancelled": cancelled}
    result = cancel_step(redshift_data(), statement=event["statement"])
    metrics.add_metric(name="StatementsTimedOut", unit=MetricUnit.Count, value=1)
    logger.warning(
        "statement timed out", extra={"statement": event["statement"], "cancelled": result["cancelled"]}
    )
    return result
