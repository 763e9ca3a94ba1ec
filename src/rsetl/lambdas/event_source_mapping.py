"""Lambda's SQS event-source mapping: poll a queue, invoke the function with a batch, delete what it did.

Built to these AWS pages:
- "Lambda parameters for Amazon SQS event source mappings"
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html): BatchSize defaults to 10,
  at most 10,000 for a standard queue and 10 for a FIFO queue; MaximumBatchingWindowInSeconds defaults
  to 0 and is not supported for FIFO queues; FunctionResponseTypes may hold ReportBatchItemFailures.
- GetEventSourceMapping, MaximumBatchingWindowInSeconds: 0 to 300 seconds; "when you set BatchSize to a
  value greater than 10, you must set MaximumBatchingWindowInSeconds to at least 1".
- "Creating and configuring an Amazon SQS event source mapping"
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html): the function's timeout must
  not exceed the queue's visibility timeout, which Lambda checks when the mapping is created; a failed
  batch returns to the queue after the visibility timeout, and the queue's redrive policy moves a message
  received maxReceiveCount times to its dead-letter queue.
- "Handling errors for an SQS event source in Lambda", Implementing partial batch responses
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): a function error
  returns the whole batch; with ReportBatchItemFailures only the messages named in `batchItemFailures`
  return, an empty or null list is a full success, and an empty, null or unknown `itemIdentifier` makes
  the whole batch a failure.
- AWS::Lambda::EventSourceMapping ScalingConfig
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-eventsourcemapping-scalingconfig.html):
  MaximumConcurrency is 2 to 1000 (the one poller here invokes one batch at a time, within any of them).
- "Lambda event source mappings", Batching behavior
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html): Lambda invokes the
  function when the batching window ends, the batch is full, or the payload reaches 6 MB.

One poller per mapping invokes one batch at a time (Lambda scales its pollers out; one is slower,
never looser).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rsetl.clock import Clock
from rsetl.lambdas.exceptions import LambdaServiceError
from rsetl.lambdas.runtime import MAX_SYNC_PAYLOAD_BYTES, InvokeResult
from rsetl.sqs.service import MAX_RECEIVE_MESSAGES, ReceivedMessage

logger = logging.getLogger(__name__)

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10_000
MAX_FIFO_BATCH_SIZE = 10
MAX_BATCHING_WINDOW_SECONDS = 300
MAXIMUM_CONCURRENCY_RANGE = range(2, 1001)
"""ScalingConfig.MaximumConcurrency: 2 to 1000."""
MAX_SQS_MESSAGE_BYTES = 256 * 1024
"""SQS's largest message: a batch stops growing when one more could push it past 6 MB."""
IDLE_POLL_SECONDS = 0.05
"""Real seconds between two receives of an empty queue."""


class InvalidParameterValue(LambdaServiceError):
    """CreateEventSourceMapping refused the mapping's settings."""

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


class NotEmulated(RuntimeError):
    """The mapping declares what the local runtime does not model: refused rather than ignored."""


class Invoker(Protocol):
    def invoke(self, function_name_or_arn: str, payload: Any) -> InvokeResult: ...


class Queue(Protocol):
    """What a poller needs of SQS (:class:`rsetl.sqs.SqsService`)."""

    def receive(
        self, queue_arn: str, max_messages: int, visibility_timeout: int
    ) -> list[ReceivedMessage]: ...

    def delete(self, queue_arn: str, receipt_handle: str) -> None: ...

    def attribute(self, queue_arn: str, name: str) -> str | None: ...

    def messages_left(self, queue_arn: str) -> int: ...


@dataclass(frozen=True)
class SqsMapping:
    """An enabled or disabled AWS::Lambda::EventSourceMapping from an SQS queue to a function."""

    uuid: str
    function_arn: str
    queue_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batching_window_seconds: int = 0
    report_batch_item_failures: bool = False
    enabled: bool = True

    @classmethod
    def from_properties(
        cls,
        uuid: str,
        props: Mapping[str, Any],
        *,
        function_arn: str,
        function_timeout_seconds: float,
        visibility_timeout_seconds: int,
        fifo: bool,
    ) -> SqsMapping:
        """The mapping `props` declare, checked as CreateEventSourceMapping checks it; NotEmulated for a
        FilterCriteria, which would drop messages this runtime would hand the function."""
        if props.get("FilterCriteria"):
            raise NotEmulated(
                f"{uuid}: FilterCriteria is not emulated by the local runtime (it would invoke the "
                "function with every message); remove it or filter in the function"
            )
        concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if concurrency is not None and int(concurrency) not in MAXIMUM_CONCURRENCY_RANGE:
            raise InvalidParameterValue(
                f"ScalingConfig.MaximumConcurrency {concurrency} is out of range: 2 to 1000"
            )
        batch_size = int(props.get("BatchSize", DEFAULT_BATCH_SIZE))
        window = int(props.get("MaximumBatchingWindowInSeconds", 0))
        largest = MAX_FIFO_BATCH_SIZE if fifo else MAX_BATCH_SIZE
        if not 1 <= batch_size <= largest:
            raise InvalidParameterValue(
                f"BatchSize {batch_size} is out of range: an SQS {'FIFO' if fifo else 'standard'} queue "
                f"takes 1 to {largest}"
            )
        if not 0 <= window <= MAX_BATCHING_WINDOW_SECONDS:
            raise InvalidParameterValue(
                f"MaximumBatchingWindowInSeconds {window} is out of range: 0 to {MAX_BATCHING_WINDOW_SECONDS}"
            )
        if fifo and window:
            raise InvalidParameterValue("Batching window is not supported for FIFO queues")
        if batch_size > DEFAULT_BATCH_SIZE and window < 1:
            raise InvalidParameterValue(
                "Maximum batch window in seconds must be greater than 0 "
                "if maximum batch size is greater than 10"
            )
        response_types = list(props.get("FunctionResponseTypes") or [])
        unknown = [t for t in response_types if t != REPORT_BATCH_ITEM_FAILURES]
        if unknown:
            raise InvalidParameterValue(
                f"FunctionResponseTypes {unknown} are not valid: only ReportBatchItemFailures"
            )
        if function_timeout_seconds > visibility_timeout_seconds:
            raise InvalidParameterValue(
                f"Queue visibility timeout: {visibility_timeout_seconds} seconds is less than "
                f"Function timeout: {function_timeout_seconds:g} seconds"
            )
        return cls(
            uuid=uuid,
            function_arn=function_arn,
            queue_arn=str(props["EventSourceArn"]),
            batch_size=batch_size,
            batching_window_seconds=window,
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in response_types,
            enabled=_boolean(props.get("Enabled", True), "Enabled"),
        )


@dataclass
class BatchOutcome:
    """One invocation of the function: the message ids it was given, those deleted and those returned."""

    message_ids: list[str]
    deleted: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    error: str | None = None


class SqsPoller:
    """Polls one mapping's queue on the runtime's clock and invokes its function batch by batch."""

    def __init__(
        self, mapping: SqsMapping, queue: Queue, invoker: Invoker, clock: Clock, region: str
    ) -> None:
        self.mapping = mapping
        self._queue = queue
        self._invoker = invoker
        self._clock = clock
        self._region = region
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._invoking = threading.Event()
        self.outcomes: list[BatchOutcome] = []

    @property
    def _visibility_timeout(self) -> int:
        return int(self._queue.attribute(self.mapping.queue_arn, "VisibilityTimeout") or 30)

    def poll_once(self) -> BatchOutcome | None:
        """Gather one batch (size, window and payload bounds) and invoke the function; None if the queue
        had nothing visible.

        While it gathers and hands on a batch the poller takes part in the clock's turns: a virtual
        clock does not jump to another execution's Wait meanwhile.
        """
        with self._clock.participant():
            batch = self._gather()
            if not batch:
                return None
            self._invoking.set()
            try:
                outcome = self._invoke(batch)
            finally:
                self._invoking.clear()
        self.outcomes.append(outcome)
        return outcome

    def _gather(self) -> list[ReceivedMessage]:
        batch: list[ReceivedMessage] = []
        payload = 0
        opened = 0.0
        visibility = self._visibility_timeout
        window = self.mapping.batching_window_seconds
        while True:
            room = min(self.mapping.batch_size - len(batch), MAX_RECEIVE_MESSAGES)
            received = self._queue.receive(self.mapping.queue_arn, room, visibility) if room > 0 else []
            if received and not batch:
                opened = self._clock.monotonic()
            batch.extend(received)
            payload += sum(len(m.body.encode()) for m in received)
            if not batch:
                return batch
            full = (
                len(batch) >= self.mapping.batch_size
                or payload + MAX_SQS_MESSAGE_BYTES > MAX_SYNC_PAYLOAD_BYTES
            )
            waited = self._clock.monotonic() - opened
            if full or waited >= window:
                return batch
            if not received:
                # Messages arrive in real time, also on a virtual clock: the window is waited out
                # (a virtual clock advances by the real time spent).
                self._clock.wait(self._stop, min(1.0, window - waited))

    def _invoke(self, batch: list[ReceivedMessage]) -> BatchOutcome:
        ids = [m.message_id for m in batch]
        outcome = BatchOutcome(ids)
        try:
            result = self._invoker.invoke(self.mapping.function_arn, self._event(batch))
        except LambdaServiceError as error:
            outcome.error = f"{error.code}: {error}"
            outcome.returned = ids
            return outcome
        if result.function_error:
            outcome.error = json.dumps(result.payload)
            outcome.returned = ids
            return outcome
        failed = (
            self._reported_failures(result.payload, ids) if self.mapping.report_batch_item_failures else set()
        )
        if failed is None:
            outcome.error = f"invalid partial batch response: {json.dumps(result.payload)[:500]}"
            outcome.returned = ids
            return outcome
        for message in batch:
            if message.message_id in failed:
                outcome.returned.append(message.message_id)
            else:
                self._queue.delete(self.mapping.queue_arn, message.receipt_handle)
                outcome.deleted.append(message.message_id)
        return outcome

    @staticmethod
    def _reported_failures(payload: Any, ids: list[str]) -> set[str] | None:
        """The message ids a partial batch response returns; None when the response is invalid (the
        whole batch then fails)."""
        if payload is None:
            return set()
        if not isinstance(payload, Mapping):
            return None
        failures = payload.get("batchItemFailures")
        if failures is None:
            return set()
        if not isinstance(failures, list):
            return None
        reported = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return None
            reported.add(identifier)
        return reported

    def _event(self, batch: list[ReceivedMessage]) -> dict[str, Any]:
        """The SQS event Lambda hands the function ("Using Lambda with Amazon SQS", example event)."""
        return {
            "Records": [
                {
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": m.attributes,
                    "messageAttributes": {
                        name: _lambda_message_attribute(value) for name, value in m.message_attributes.items()
                    },
                    "md5OfMessageAttributes": m.md5_of_message_attributes,
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.mapping.queue_arn,
                    "awsRegion": self._region,
                }
                for m in batch
            ]
        }

    def busy(self) -> bool:
        """Whether the queue still holds messages (visible, in flight or delayed) or a batch is running."""
        return self._invoking.is_set() or self._queue.messages_left(self.mapping.queue_arn) > 0

    def start(self) -> None:
        if self.mapping.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"rsetl-esm-{self.mapping.uuid}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.poll_once()
            except Exception:
                logger.exception(
                    "event-source mapping %s: a poll failed in the local runtime", self.mapping.uuid
                )
                outcome = None
            if outcome is not None:
                continue
            if self._queue.messages_left(self.mapping.queue_arn):
                # Only messages in flight (a returned batch) or delayed: let their timeouts pass.
                self._clock.sleep_in_turn(1.0)
            else:
                self._stop.wait(IDLE_POLL_SECONDS)


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS API message attribute ({"DataType", "StringValue" | "BinaryValue"}) in the shape Lambda's
    SQS event gives it ("Using Lambda with Amazon SQS", example event): camel-case keys, empty lists."""
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        shaped["binaryValue"] = (
            base64.b64encode(binary).decode() if isinstance(binary, bytes) else str(binary)
        )
    return {**shaped, "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def _boolean(value: object, name: str) -> bool:
    """A CloudFormation Boolean: true or false, or their strings as a parameter or `!If` gives them
    (so `"false"` disables the mapping, where `bool("false")` would enable it)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise InvalidParameterValue(f"{name} must be true or false, not {value!r}")
    return text == "true"
