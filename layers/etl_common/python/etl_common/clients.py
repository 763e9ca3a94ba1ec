"""boto3 clients of the functions: created on first use, reused while the function stays warm.

Plain `boto3.client(...)`: on AWS they reach the regional endpoints; locally the runtime sets
`AWS_ENDPOINT_URL_<SERVICE>` and boto3 follows it, so no endpoint logic lives here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def redshift_data() -> Any:
    """The Redshift Data API client."""
    return boto3.client("redshift-data")


@cache
def events_client() -> Any:
    """The EventBridge client."""
    return boto3.client("events")


@cache
def s3() -> Any:
    """The S3 client."""
    return boto3.client("s3")


@cache
def stepfunctions() -> Any:
    """The Step Functions client."""
    return boto3.client("stepfunctions")
