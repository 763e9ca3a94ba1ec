"""Asynchronous invocation (`InvocationType: Event`), as EventBridge invokes a Lambda target.

Lambda asynchronous invocation (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html):
Lambda queues the event and answers at once; a function error is retried twice (one minute before
the second attempt, two minutes before the third), or `MaximumRetryAttempts` times of the function's
EventInvokeConfig, while the event is younger than `MaximumEventAgeInSeconds` (six hours by default).
Then the invocation record goes to the OnFailure destination, or the event is discarded.
Capturing records of Lambda asynchronous invocations
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html) gives the record.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rsetl.clock import Clock
from rsetl.lambdas.exceptions import LambdaServiceError
from rsetl.lambdas.runtime import InvokeResult

logger = logging.getLogger(__name__)

MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
"""Invoke: "For asynchronous invocations, the maximum payload size is 1 MB"."""

RETRY_DELAYS = (60.0, 120.0)
"""Seconds before the second and the third attempt after a function error."""


class Invoker(Protocol):
    def invoke(self, function_name_or_arn: str, payload: Any) -> InvokeResult: ...


DestinationSender = Callable[[str, str], None]
"""Sends an invocation record (JSON text) to a destination ARN; raises when it cannot."""


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's AWS::Lambda::EventInvokeConfig (Lambda's defaults without one)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure: str | None = None
    on_success: str | None = None

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> EventInvokeConfig:
        destinations = props.get("DestinationConfig") or {}
        return cls(
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
            maximum_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", 21600)),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
        )


@dataclass
class AsyncInvocation:
    """One queued event and what became of it: QUEUED, then SUCCEEDED, SENT_TO_DESTINATION or DROPPED."""

    request_id: str
    function_arn: str
    status: str = "QUEUED"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    destination: str | None = None
    _listeners: list[Callable[[AsyncInvocation], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> bool:
        return self.status != "QUEUED"

    def on_done(self, listener: Callable[[AsyncInvocation], None]) -> None:
        """Call `listener` once the invocation has its final status (at once if it has it already)."""
        with self._lock:
            if not self.done:
                self._listeners.append(listener)
                return
        listener(self)

    def finish(self, status: str, destination: str | None = None) -> None:
        with self._lock:
            self.status, self.destination = status, destination
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)


class PayloadTooLarge(LambdaServiceError):
    """The event is over the asynchronous payload quota; Invoke refuses it."""

    def __init__(self, size: int) -> None:
        super().__init__(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {MAX_ASYNC_PAYLOAD_BYTES} bytes for the Invoke operation",
        )
        self.size = size


class AsyncInvoker:
    """Lambda's asynchronous event queue: retries on the clock, then OnFailure or discard."""

    def __init__(
        self,
        invoker: Invoker,
        clock: Clock,
        send_to_destination: DestinationSender,
        configs: Mapping[str, EventInvokeConfig] | None = None,
        workers: int = 8,
    ) -> None:
        self._invoker = invoker
        self._clock = clock
        self._send = send_to_destination
        self._configs = dict(configs or {})
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rsetl-lambda-async")
        self._pending = 0
        self._lock = threading.Lock()
        self.invocations: list[AsyncInvocation] = []

    def configure(self, function_arn: str, config: EventInvokeConfig) -> None:
        self._configs[function_arn] = config

    def invoke(self, function_arn: str, payload: str) -> AsyncInvocation:
        """Queue `payload` (JSON text) for `function_arn`; raises :class:`PayloadTooLarge` at once."""
        size = len(payload.encode())
        if size > MAX_ASYNC_PAYLOAD_BYTES:
            raise PayloadTooLarge(size)
        invocation = AsyncInvocation(str(uuid.uuid4()), function_arn)
        with self._lock:
            self._pending += 1
            self.invocations.append(invocation)
        self._pool.submit(self._run, invocation, json.loads(payload), self._clock.now())
        return invocation

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def close(self, wait: bool = False) -> None:
        """Stop taking events; `wait` for the queued ones to finish instead of cancelling them."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _run(self, invocation: AsyncInvocation, event: Any, queued_at: datetime) -> None:
        try:
            self._process(invocation, event, queued_at)
        except Exception:
            logger.exception("asynchronous invocation %s failed in the local runtime", invocation.request_id)
            invocation.finish("DROPPED")
        finally:
            with self._lock:
                self._pending -= 1

    def _process(self, invocation: AsyncInvocation, event: Any, queued_at: datetime) -> None:
        config = self._configs.get(invocation.function_arn, EventInvokeConfig())
        result: InvokeResult | None = None
        condition = "RetriesExhausted"
        for attempt in range(1 + config.maximum_retry_attempts):
            if attempt:
                self._clock.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
                if (self._clock.now() - queued_at).total_seconds() > config.maximum_event_age_seconds:
                    condition = "EventAgeExceeded"
                    break
            invocation.attempts += 1
            try:
                result = self._invoker.invoke(invocation.function_arn, event)
            except LambdaServiceError as error:
                invocation.errors.append(f"{error.code}: {error}")
                continue
            if not result.function_error:
                self._succeeded(invocation, config, event, result)
                return
            invocation.errors.append(_error_text(result.payload))
        self._failed(invocation, config, event, result, condition)

    def _succeeded(
        self, invocation: AsyncInvocation, config: EventInvokeConfig, event: Any, result: InvokeResult
    ) -> None:
        if config.on_success is not None:
            record = self._record(invocation, event, result, "Success")
            self._deliver(invocation, config.on_success, record, "SUCCEEDED")
            return
        invocation.finish("SUCCEEDED")

    def _failed(
        self,
        invocation: AsyncInvocation,
        config: EventInvokeConfig,
        event: Any,
        result: InvokeResult | None,
        condition: str,
    ) -> None:
        if config.on_failure is None:
            logger.error(
                "asynchronous invocation %s of %s dropped after %d attempt(s) (%s): %s",
                invocation.request_id, invocation.function_arn, invocation.attempts, condition,
                invocation.errors[-1] if invocation.errors else "",
            )  # fmt: skip
            invocation.finish("DROPPED")
            return
        self._deliver(invocation, config.on_failure, self._record(invocation, event, result, condition), None)

    def _deliver(
        self, invocation: AsyncInvocation, arn: str, record: dict[str, Any], status: str | None
    ) -> None:
        try:
            self._send(arn, json.dumps(record))
        except Exception as error:
            # Lambda counts this as a DestinationDeliveryFailures metric; the record is lost.
            logger.error(
                "asynchronous invocation %s: cannot send its record to %s: %s",
                invocation.request_id,
                arn,
                error,
            )
            invocation.errors.append(f"DestinationDeliveryFailure: {error}")
            invocation.finish(status or "DROPPED")
            return
        logger.warning(
            "asynchronous invocation %s of %s: record sent to %s",
            invocation.request_id,
            invocation.function_arn,
            arn,
        )
        invocation.finish(status or "SENT_TO_DESTINATION", arn)

    def _record(
        self, invocation: AsyncInvocation, event: Any, result: InvokeResult | None, condition: str
    ) -> dict[str, Any]:
        """The invocation record as "Capturing records of Lambda asynchronous invocations" shows it."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": self._clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": f"{invocation.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": invocation.attempts,
            },
            "requestPayload": event,
        }
        if result is not None:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if result.function_error:
                response["functionError"] = result.function_error
            record["responseContext"] = response
            record["responsePayload"] = result.payload
        return record


def _error_text(payload: Any) -> str:
    if isinstance(payload, Mapping):
        return f"{payload.get('errorType', 'Error')}: {payload.get('errorMessage', '')}"
    return str(payload)
