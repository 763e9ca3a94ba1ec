"""A delivery of one event to one target: what it carries, its retry settings and its record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

__all__ = [
    "FINISHED_STATUSES",
    "Delivery",
    "DeliveryAuthorizer",
    "DeliveryRecord",
    "RetryBackoff",
]

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE = 86400


@dataclass(frozen=True)
class RetryBackoff:
    """Wait before retry n (1-based): initial * multiplier**(n-1), at most `maximum` seconds."""

    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 300.0

    def delay(self, retry: int) -> float:
        return float(min(self.initial * self.multiplier ** (retry - 1), self.maximum))


@dataclass
class DeliveryRecord:
    """One delivery of one event to one target, as `rsetl local events` shows it."""

    delivery_id: int
    event_id: str
    source: str
    target_id: str
    target_arn: str
    payload: str
    rule_arn: str | None = None
    schedule_arn: str | None = None
    status: str = "PENDING"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None
    dead_letter_arn: str | None = None
    invocation: dict[str, Any] | None = None
    """For a target invoked asynchronously: its status, attempts, errors and destination."""
    redeliveries: int = 0
    """How many times a start-up made this delivery again because the runtime stopped before it ended."""

    @classmethod
    def of(cls, delivery: Delivery, delivery_id: int, **progress: Any) -> DeliveryRecord:
        """The record of `delivery`, with what is known of its progress."""
        return cls(
            delivery_id=delivery_id, event_id=delivery.event_id, source=delivery.source,
            target_id=delivery.target_id, target_arn=delivery.target_arn, payload=delivery.payload,
            rule_arn=delivery.rule_arn, schedule_arn=delivery.schedule_arn, **progress,
        )  # fmt: skip

    def progress(self) -> dict[str, Any]:
        """What changes as the delivery goes on, as the journal keeps it."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "errors": list(self.errors),
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "dead_letter_arn": self.dead_letter_arn,
            "invocation": self.invocation,
            "redeliveries": self.redeliveries,
        }


FINISHED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "DEAD_LETTERED", "TARGET_FAILED"})
"""A delivery in another status (PENDING, INVOKED with its function's outcome unknown, CANCELLED by a
stop) had not ended when the runtime stopped; the next start-up makes it again."""


@dataclass(frozen=True)
class Delivery:
    """What the dispatcher needs to deliver one event to one target."""

    event_id: str
    event_time: datetime
    source: str
    target_id: str
    target_arn: str
    payload: str
    dead_letter_body: str
    rule_arn: str | None = None
    schedule_arn: str | None = None
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE
    dead_letter_arn: str | None = None
    payload_for_attempt: Callable[[int], str] | None = None
    role_arn: str | None = None
    """The target's RoleArn: the role EventBridge (or the scheduler) assumes to call it."""

    def journaled(self) -> dict[str, Any]:
        """Every field but `payload_for_attempt` (a redelivery sends `payload` at each attempt)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "payload_for_attempt"}

    @classmethod
    def from_journal(cls, values: dict[str, Any]) -> Delivery:
        return cls(**{**values, "event_time": datetime.fromisoformat(values["event_time"])})

    @classmethod
    def retry_settings(cls, target: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the RetryPolicy, DeadLetterConfig and RoleArn of an API target dict."""
        policy = target.get("RetryPolicy") or {}
        return {
            "role_arn": target.get("RoleArn"),
            "maximum_retry_attempts": int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)),
            "maximum_event_age": int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE)),
            "dead_letter_arn": (target.get("DeadLetterConfig") or {}).get("Arn"),
        }


DeliveryAuthorizer = Callable[[Delivery], tuple[str, str] | None]
"""IAM's check of a delivery before it is attempted: None, or (error code, message) such as
`NO_PERMISSIONS` or `FAILED_TO_ASSUME_ROLE`."""
