"""Execution history: AWS's event types and detail fields, plus the counters benchmarks read."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from rsetl.awsproto.models import service_model
from rsetl.clock import Clock
from rsetl.stepfunctions.exceptions import StatesError

HISTORY_EVENT_LIMIT = 25_000


def dumps(value: Any) -> str:
    """JSON text of a state's data, as history events carry it."""
    return json.dumps(value, separators=(",", ":"))


@lru_cache(maxsize=1)
def _history_event_shape() -> tuple[frozenset[str], frozenset[str]]:
    model = service_model("stepfunctions")
    event_types = frozenset(model.shape_for("HistoryEventType").metadata["enum"])
    detail_fields = frozenset(model.shape_for("HistoryEvent").members)  # type: ignore[attr-defined]
    return event_types, detail_fields


def details_field(event_type: str) -> str | None:
    """The HistoryEvent member that holds the details of `event_type` (None when it has none)."""
    event_types, detail_fields = _history_event_shape()
    if event_type not in event_types:
        raise ValueError(f"{event_type!r} is not a Step Functions history event type")
    if event_type.endswith("StateEntered") or event_type == "FailStateEntered":
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    candidate = event_type[0].lower() + event_type[1:] + "EventDetails"
    return candidate if candidate in detail_fields else None


@dataclass
class ExecutionStats:
    """What the benchmarks count for one execution."""

    state_transitions: int = 0
    lambda_invocations: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)


class History:
    """The ordered, thread-safe event list of one execution, bounded as on AWS.

    `on_add` hears each event as it is appended (the journal writes it through); `events` are the
    events recorded before (an execution loaded from the journal).
    """

    def __init__(
        self,
        clock: Clock,
        limit: int = HISTORY_EVENT_LIMIT,
        *,
        on_add: Callable[[dict[str, Any]], None] | None = None,
        events: Iterable[dict[str, Any]] = (),
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._lock = threading.Lock()
        self._on_add = on_add
        self.events: list[dict[str, Any]] = list(events)
        self.stats = ExecutionStats()

    def __len__(self) -> int:
        return len(self.events)

    def add(
        self,
        event_type: str,
        details: dict[str, Any] | None = None,
        previous_event_id: int | None = None,
        *,
        closing: bool = False,
    ) -> int:
        """Append an event and return its id.

        Raises States.Runtime once the limit is reached; `closing` events (the execution's
        own end) are always recorded so a failed execution still says why.
        """
        key = details_field(event_type)
        with self._lock:
            if not closing and len(self.events) >= self._limit - 1:
                raise StatesError(
                    "States.Runtime",
                    f"The execution reached the maximum number of history events ({self._limit}).",
                )
            event_id = len(self.events) + 1
            event: dict[str, Any] = {
                "timestamp": self._clock.now(),
                "type": event_type,
                "id": event_id,
                "previousEventId": event_id - 1 if previous_event_id is None else previous_event_id,
            }
            if key is not None and details is not None:
                event[key] = details
            self.events.append(event)
            if self._on_add is not None:
                self._on_add(event)
            self.stats.events_by_type[event_type] += 1
            if event_type.endswith("StateEntered"):
                self.stats.state_transitions += 1
            if event_type == "LambdaFunctionScheduled" or (
                event_type == "TaskScheduled" and details and details.get("resourceType") == "lambda"
            ):
                self.stats.lambda_invocations += 1
            return event_id

    def timestamps(self) -> list[datetime]:
        """Timestamps of every event so far, in order (virtual time on a VirtualClock)."""
        with self._lock:
            return [event["timestamp"] for event in self.events]
