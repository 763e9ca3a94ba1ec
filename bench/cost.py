"""AWS cost of one pipeline run from its counts, at published us-east-1 list prices."""

from __future__ import annotations

from dataclasses import dataclass

PRICES_SOURCE = (
    "AWS pricing pages for us-east-1 (aws.amazon.com/step-functions/pricing, /lambda/pricing, "
    "/eventbridge/pricing, /sqs/pricing), list prices without the free tier, recorded 2026-11-21"
)


@dataclass(frozen=True)
class Prices:
    """US dollars per unit."""

    state_transition: float = 0.025 / 1000
    """Step Functions Standard: $0.025 per 1,000 state transitions."""
    lambda_request: float = 0.20 / 1_000_000
    """Lambda: $0.20 per million requests."""
    lambda_gb_second: float = 0.0000133334
    """Lambda on arm64 (the template's architecture): $0.0000133334 per GB-second (first tier)."""
    custom_event: float = 1.00 / 1_000_000
    """EventBridge: $1.00 per million custom events put."""
    sqs_request: float = 0.40 / 1_000_000
    """SQS standard queue: $0.40 per million requests (each 64 KB chunk of a payload is one request)."""


@dataclass(frozen=True)
class RunCounts:
    """What one run uses of the billed dimensions."""

    state_transitions: int
    lambda_invocations: int
    lambda_gb_seconds: float
    events_put: int
    sqs_requests: int = 0
    """SendMessage, ReceiveMessage and DeleteMessage calls (a queue between a rule and a function)."""


@dataclass(frozen=True)
class RunCost:
    """Dollars of one run, by service."""

    step_functions: float
    lambda_requests: float
    lambda_duration: float
    eventbridge: float
    sqs: float = 0.0

    @property
    def total(self) -> float:
        return self.step_functions + self.lambda_requests + self.lambda_duration + self.eventbridge + self.sqs


def run_cost(counts: RunCounts, prices: Prices | None = None) -> RunCost:
    """The cost of one run with `counts` at `prices` (the published list prices by default)."""
    prices = prices or Prices()
    return RunCost(
        step_functions=counts.state_transitions * prices.state_transition,
        lambda_requests=counts.lambda_invocations * prices.lambda_request,
        lambda_duration=counts.lambda_gb_seconds * prices.lambda_gb_second,
        eventbridge=counts.events_put * prices.custom_event,
        sqs=counts.sqs_requests * prices.sqs_request,
    )


def lambda_gb_seconds(durations_seconds: list[float], memory_mb: int, compute_seconds: float) -> float:
    """GB-seconds billed for invocations that each waited `durations_seconds` and computed `compute_seconds`.

    Lambda bills each invocation's duration rounded up to the millisecond.
    """
    billed_ms = sum(-(-round((wait + compute_seconds) * 1e6) // 1000) for wait in durations_seconds)
    return billed_ms / 1000 * memory_mb / 1024
