"""ExecuteStep: submit one step's SQL through the Data API (idempotently) and long-poll it once."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import PollPolicy, RedshiftTarget, execute_step
from etl_common.clients import redshift_data

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: ``run`` (PrepareRun's output), ``step`` (name, timeout), ``attempt`` (the step's
    submission, from 1), ``now`` (the state's entry time), ``redrive_count`` (the execution's
    RedriveCount)."""
    statement = execute_step(
        redshift_data(),
        RedshiftTarget.from_env(),
        PollPolicy.from_env(),
        run=event["run"],
        step=event["step"],
        now=event["now"],
        attempt=int(event.get("attempt", 1)),
        redrive_count=int(event["redrive_count"]),
        iam_role=os.environ.get("COPY_IAM_ROLE_ARN", ""),
    )
    metrics.add_dimension(name="pipeline", value=event["run"]["pipeline"])
    metrics.add_metric(name="StatementsSubmitted", unit=MetricUnit.Count, value=1)
    logger.info("step submitted", extra={"step": statement["step"], "statement": statement})
    return statement
