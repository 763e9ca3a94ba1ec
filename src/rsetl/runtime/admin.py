"""A small signed JSON service for what AWS has no API for: the local bus's record of events."""

from __future__ import annotations

import json
import zlib
from typing import Any

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.eventbridge import EventBridge

TARGET_PREFIX = "RsetlLocal"
SIGNING_NAME = "rsetl-local"


class AdminService:
    """`RsetlLocal.ListEvents`: every event put on a local bus and what was delivered for it."""

    signing_name = SIGNING_NAME
    target_prefix = TARGET_PREFIX

    def __init__(self, events: EventBridge) -> None:
        self._events = events

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        operation = request.header("X-Amz-Target").rpartition(".")[2]
        if operation != "ListEvents":
            raise AwsError("UnknownOperationException", f"Unknown operation {operation}")
        context.authorize(f"{SIGNING_NAME}:{operation}", "*")
        return self._json(200, {"Events": self._list_events()}, context)

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        return self._json(error.status, {"__type": error.code, "message": error.message}, context)

    def _list_events(self) -> list[dict[str, Any]]:
        deliveries: dict[str, list[dict[str, Any]]] = {}
        for record in self._events.deliveries():
            deliveries.setdefault(record.event_id, []).append(
                {
                    "rule": record.rule_arn or record.schedule_arn,
                    "target": record.target_arn,
                    "status": record.status,
                    "attempts": record.attempts,
                    "errors": record.errors,
                    "invocation": record.invocation,
                    "redeliveries": record.redeliveries,
                }
            )
        return [
            {
                "id": record.event_id,
                "time": record.event["time"],
                "bus": record.bus_name,
                "source": record.event["source"],
                "detailType": record.event["detail-type"],
                "detail": record.event["detail"],
                "rules": list(record.matched_rules),
                "deliveries": deliveries.get(record.event_id, []),
            }
            for record in self._events.events()
        ]

    @staticmethod
    def _json(status: int, payload: dict[str, Any], context: RequestContext) -> AwsResponse:
        body = json.dumps(payload, default=str).encode()
        return AwsResponse(
            status,
            body,
            {
                "Content-Type": "application/x-amz-json-1.1",
                "x-amzn-RequestId": context.request_id,
                "x-amz-crc32": str(zlib.crc32(body) & 0xFFFFFFFF),
            },
        )
