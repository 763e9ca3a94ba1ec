"""The SQS JSON protocol (`AmazonSQS.*` X-Amz-Target, JSON 1.0) served by moto in-process.

The template's queues are created at start-up; Lambda's OnFailure destinations send to them through
:meth:`SqsService.send_message`, and any boto3 client reads them over the wire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moto.server import create_backend_app
from moto.sqs.models import sqs_backends

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.router import LOCAL_ACCOUNT_ID, LOCAL_REGION
from rsetl.awsproto.wsgi import call_wsgi

QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication", "KmsMasterKeyId",
    "SqsManagedSseEnabled",
)  # fmt: skip
"""AWS::SQS::Queue properties that are queue attributes of the same name."""


class SqsService:
    """Local SQS for one account and region (moto's backend is process-wide: one at a time)."""

    signing_name = "sqs"
    target_prefix = "AmazonSQS"

    def __init__(self, account_id: str = LOCAL_ACCOUNT_ID, region: str = LOCAL_REGION) -> None:
        sqs_backends.reset()
        self._account_id = account_id
        self._region = region
        self._app = create_backend_app("sqs")

    @property
    def _backend(self) -> Any:
        return sqs_backends[self._account_id][self._region]

    def create_queue(self, name: str, properties: dict[str, Any]) -> None:
        """Create a queue as the template declares it (its attribute properties, as strings)."""
        attributes = {
            key: json.dumps(value) if isinstance(value, dict) else str(value).lower()
            if isinstance(value, bool) else str(value)
            for key, value in properties.items()
            if key in QUEUE_ATTRIBUTES
        }  # fmt: skip
        self._backend.create_queue(name, **attributes)

    def send_message(self, queue_arn: str, body: str, attributes: Mapping[str, str] | None = None) -> str:
        """Send `body` (with string message `attributes`) to the queue `queue_arn`; the message id."""
        message_attributes = {
            name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items()
        }
        message = self._backend.send_message(
            self._queue_name(queue_arn), body, message_attributes=message_attributes or None
        )
        return str(message.id)

    def visible_messages(self, queue_arn: str) -> list[str]:
        """Bodies of the messages a ReceiveMessage could get now, oldest first, without receiving them."""
        queue = self._backend.get_queue(self._queue_name(queue_arn))
        return [message.body for message in queue.messages if message.visible]

    def queue_arns(self) -> list[str]:
        return sorted(queue.queue_arn for queue in self._backend.queues.values())

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        status, headers, body = call_wsgi(self._app, request, self._account_id)
        headers.setdefault("x-amzn-RequestId", context.request_id)
        return AwsResponse(status, body, headers)

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        body = json.dumps({"__type": f"com.amazonaws.sqs#{error.code}", "message": error.message}).encode()
        return AwsResponse(
            error.status,
            body,
            {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-RequestId": context.request_id,
                "x-amzn-query-error": f"{error.code};Sender",
            },
        )

    def _queue_name(self, queue_arn: str) -> str:
        name = queue_arn.rsplit(":", 1)[-1]
        if name not in self._backend.queues:
            raise AwsError("QueueDoesNotExist", "The specified queue does not exist.", 400)
        return name
