"""CancelStatement: cancel a statement that ran past its step's time budget."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import cancel_step
from etl_common.clients import redshift_data

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: ``statement`` (the timed-out step's statement state)."""
    result = cancel_step(redshift_data(), statement=event["statement"])
    metrics.add_metric(name="StatementsTimedOut", unit=MetricUnit.Count, value=1)
    logger.warning(
        "statement timed out", extra={"statement": event["statement"], "cancelled": result["cancelled"]}
    )
    return result
