"""CheckStatement: long-poll a running statement and say how long to wait before the next check."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl_common import PollPolicy, check_statement

logger = Logger()


@cache
def redshift_data() -> Any:
    """The Data API client (created on first use, reused while the function is warm)."""
    return boto3.client("redshift-data")


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
