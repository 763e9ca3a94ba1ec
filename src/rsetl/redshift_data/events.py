"""The `aws.redshift-data` "Redshift Data Statement Status Change" event of `WithEvent=true`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

EventSink = Callable[[dict[str, Any]], None]
"""Receives one PutEvents-style entry (`Source`, `DetailType`, `Detail` as JSON text, ...)."""

SOURCE = "aws.redshift-data"
DETAIL_TYPE = "Redshift Data Statement Status Change"


def status_change_entry(
    *,
    principal_arn: str,
    resource_arn: str,
    statement_id: str,
    statement_name: str | None,
    redshift_query_id: int,
    state: str,
    rows: int,
    time: datetime,
    expire_at: datetime,
) -> dict[str, Any]:
    """The entry AWS puts on the default bus when a statement submitted `WithEvent` ends."""
    detail = {
        "principal": principal_arn,
        "statementName": statement_name or "",
        "statementId": statement_id,
        "redshiftQueryId": redshift_query_id if state == "FINISHED" else -1,
        "state": state,
        "rows": rows if state == "FINISHED" else -1,
        "expireAt": int(expire_at.timestamp()),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [resource_arn],
        "Time": time,
        "EventBusName": "default",
    }
