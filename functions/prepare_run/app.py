"""PrepareRun: validate a RunPipeline input, load the pipeline spec and plan the run's stages."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import prepare_run
from etl_common.clients import s3

if TYPE_CHECKING:
    from etl_common.runs import Run

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Run:
    """Event: ``input`` (the execution input), ``execution_name``, ``execution_arn``, ``started_at``."""
    run = prepare_run(
        event["input"],
        execution_name=event["execution_name"],
        execution_arn=event["execution_arn"],
        started_at=event["started_at"],
        default_timeout_seconds=int(os.environ["STEP_TIMEOUT_SECONDS"]),
        s3=s3(),
        iam_role=os.environ.get("COPY_IAM_ROLE_ARN", ""),
    )
    metrics.add_dimension(name="pipeline", value=run["pipeline"])
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    logger.info("run prepared", extra={"pipeline": run["pipeline"], "parameters": run["parameters"]})
    return run
