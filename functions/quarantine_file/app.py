"""QuarantineFile: on an ingest's "Pipeline Failed" event, record a FAILED ledger row and move the
file to ``quarantine/<original key>`` so it is neither lost nor loaded half-way."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import RedshiftTarget, failed_load, move_to_quarantine, record_failed_load
from etl_common.clients import redshift_data, s3

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="detail.execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: the EventBridge "Pipeline Failed" event of an ingest pipeline."""
    load = failed_load(event["detail"])
    statement_id = record_failed_load(redshift_data(), RedshiftTarget.from_env(), load)
    quarantine_key = move_to_quarantine(s3(), load)
    metrics.add_dimension(name="pipeline", value=load["pipeline"])
    metrics.add_metric(name="FilesQuarantined", unit=MetricUnit.Count, value=1 if quarantine_key else 0)
    logger.info(
        "failed load recorded",
        extra={"bucket": load["bucket"], "key": load["object_key"], "quarantine_key": quarantine_key},
    )
    return {"ledger_statement_id": statement_id, "quarantine_key": quarantine_key}
