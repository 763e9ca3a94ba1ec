"""CheckStatement: long-poll a running statement and say how long to wait before the next check."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import PollPolicy, check_statement
from etl_common.clients import redshift_data

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="execution_name")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: ``statement`` (the step's statement state) and ``now`` (the state's entry time)."""
    statement = check_statement(
        redshift_data(),
        PollPolicy.from_env(),
        statement=event["statement"],
        now=event["now"],
        remaining_ms=context.get_remaining_time_in_millis(),
    )
    logger.info("statement checked", extra={"statement": statement})
    return statement
