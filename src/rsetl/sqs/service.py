"""The SQS JSON protocol (`AmazonSQS.*` X-Amz-Target, JSON 1.0) served by moto in-process.

The template's queues are created at start-up; Lambda's OnFailure destinations and EventBridge's SQS
targets send to them through :meth:`SqsService.send_message`, Lambda's event-source mappings receive
and delete through :meth:`SqsService.receive` and :meth:`SqsService.delete`, and any boto3 client
reads them over the wire. Visibility timeouts, delays and retention run on the runtime's clock. Given
a state directory, the messages survive a restart (:mod:`rsetl.sqs.store`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import moto.sqs.models as moto_sqs
from moto.server import create_backend_app
from moto.sqs.models import sqs_backends

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.router import LOCAL_ACCOUNT_ID, LOCAL_REGION
from rsetl.awsproto.wsgi import call_wsgi
from rsetl.clock import Clock, RealClock
from rsetl.sqs.store import MessageStore

QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication", "KmsMasterKeyId",
    "SqsManagedSseEnabled",
)  # fmt: skip
"""AWS::SQS::Queue properties that are queue attributes of the same name."""
MAX_RECEIVE_MESSAGES = 10
"""ReceiveMessage: MaxNumberOfMessages is 1 to 10."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as ReceiveMessage returns it, with its system attributes as strings."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, Any]
    """As the SQS API gives them: {"DataType", "StringValue" or "BinaryValue"} by name."""
    md5_of_message_attributes: str | None
    """None when the message has no message attributes."""


def _use_clock(clock: Clock) -> None:
    """Make moto's SQS read time from `clock` (its visibility timeouts, delays and retention).

    moto's SQS reads `unix_time` / `unix_time_millis` from its models module; the backend is
    process-wide, as is this.
    """

    def unix_time(moment: datetime | None = None) -> float:
        if moment is None:
            return clock.now().timestamp()
        return moment.timestamp() if moment.tzinfo else (moment - datetime(1970, 1, 1)).total_seconds()

    moto_sqs.unix_time = unix_time  # type: ignore[assignment]
    moto_sqs.unix_time_millis = lambda moment=None: unix_time(moment) * 1000.0  # type: ignore[assignment]


def _write_through(backend: Any, store: MessageStore) -> None:
    """Make every change moto's `backend` makes to a message, whoever asks for it (the wire or this
    service), reach `store`: its methods are wrapped on the instance, which its server app calls."""
    send, receive = backend.send_message, backend.receive_message
    delete, change, purge = backend.delete_message, backend.change_message_visibility, backend.purge_queue

    def send_message(queue_name: str, *args: Any, **kwargs: Any) -> Any:
        message = send(queue_name, *args, **kwargs)
        store.sent(queue_name, message)
        return message

    def receive_message(queue_name: str, *args: Any, **kwargs: Any) -> Any:
        messages = receive(queue_name, *args, **kwargs)
        queue = backend.get_queue(queue_name)
        store.changed(queue, messages, queue.dead_letter_queue)
        return messages

    def delete_message(queue_name: str, receipt_handle: str) -> None:
        delete(queue_name, receipt_handle)
        store.changed(backend.get_queue(queue_name))

    def change_message_visibility(queue_name: str, receipt_handle: str, *args: Any, **kwargs: Any) -> None:
        change(queue_name, receipt_handle, *args, **kwargs)
        queue = backend.get_queue(queue_name)
        store.changed(queue, [m for m in list(queue._messages) if m.receipt_handle == receipt_handle])

    def purge_queue(queue_name: str) -> None:
        purge(queue_name)
        store.changed(backend.get_queue(queue_name))

    backend.send_message, backend.receive_message = send_message, receive_message
    backend.delete_message, backend.change_message_visibility = delete_message, change_message_visibility
    backend.purge_queue = purge_queue


class SqsService:
    """Local SQS for one account and region (moto's backend is process-wide: one at a time)."""

    signing_name = "sqs"
    target_prefix = "AmazonSQS"

    def __init__(
        self,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = LOCAL_REGION,
        clock: Clock | None = None,
        state_dir: Path | None = None,
    ) -> None:
        sqs_backends.reset()
        _use_clock(clock or RealClock())
        self._account_id = account_id
        self._region = region
        self._app = create_backend_app("sqs")
        self._store = MessageStore(state_dir) if state_dir is not None else None
        if self._store is not None:
            _write_through(self._backend, self._store)

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
        queue = self._backend.create_queue(name, **attributes)
        if self._store is not None:
            self._store.restore(queue)

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

    def receive(self, queue_arn: str, max_messages: int, visibility_timeout: int) -> list[ReceivedMessage]:
        """ReceiveMessage without a wait: up to `max_messages` (1-10) visible messages, each hidden for
        `visibility_timeout` seconds; a message past its queue's maxReceiveCount moves to the DLQ."""
        if not 1 <= max_messages <= MAX_RECEIVE_MESSAGES:
            raise AwsError(
                "InvalidParameterValue",
                f"Value {max_messages} for parameter MaxNumberOfMessages is invalid. "
                "Reason: Must be between 1 and 10, if provided.",
                400,
            )
        messages = self._backend.receive_message(
            self._queue_name(queue_arn), max_messages, 0, visibility_timeout, ["All"]
        )
        return [
            ReceivedMessage(
                message_id=str(m.id),
                receipt_handle=str(m.receipt_handle),
                body=m.body,
                md5_of_body=m.body_md5,
                attributes={
                    "ApproximateReceiveCount": str(m.approximate_receive_count),
                    "SentTimestamp": str(m.sent_timestamp),
                    "SenderId": self._account_id,
                    "ApproximateFirstReceiveTimestamp": str(m.approximate_first_receive_timestamp),
                },
                message_attributes=dict(m.message_attributes or {}),
                md5_of_message_attributes=m.attribute_md5 if m.message_attributes else None,
            )
            for m in messages
        ]

    def delete(self, queue_arn: str, receipt_handle: str) -> None:
        """DeleteMessage of a received message."""
        self._backend.delete_message(self._queue_name(queue_arn), receipt_handle)

    def attribute(self, queue_arn: str, name: str) -> str | None:
        """One attribute of the queue as GetQueueAttributes gives it (None when not set)."""
        attributes = self._backend.get_queue(self._queue_name(queue_arn)).attributes
        value = attributes.get(name)
        return None if value is None else str(value)

    def messages_left(self, queue_arn: str) -> int:
        """Messages in the queue: visible, in flight or delayed (not yet deleted or moved).

        Every message moto holds is one of the three, so this is their count: summing moto's three
        approximate counts scans the queue three times and reads the clock twice per message, and the
        event-source mapping asks this between polls, which made a burst's cost grow with the square
        of the messages queued."""
        return len(self._backend.get_queue(self._queue_name(queue_arn))._messages)

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
