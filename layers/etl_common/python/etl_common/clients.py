"""boto3 clients of the functions: created on first use, reused while the function stays warm.

Plain `boto3.client(...)`: on AWS they reach the regional endpoints; locally the runtime sets
`AWS_ENDPOINT_URL_<SERVICE>` and boto3 follows it, so no endpoint logic lives here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@cache
def redshift_data() -> RedshiftDataAPIServiceClient:
    """The Redshift Data API client."""
    return boto3.client("redshift-data")


@cache
def events_client() -> EventBridgeClient:
    """The EventBridge client."""
    return boto3.client("events")


@cache
def s3() -> S3Client:
    """The S3 client."""
    return boto3.client("s3")


@cache
def stepfunctions() -> SFNClient:
    """The Step Functions client."""
    return boto3.client("stepfunctions")
