"""The one fault-injection mechanism (rsetl/faults.py) behind the Data API's, Lambda's and
EventBridge's fault hooks."""

from __future__ import annotations

from rsetl.faults import FaultQueue


def test_faults_are_consumed_in_order_one_per_call_and_per_key() -> None:
    queue: FaultQueue[str] = FaultQueue()
    queue.add("ExecuteStatement", "InternalServerException", count=2)
    queue.add("ExecuteStatement", "ValidationException")

    assert queue.pending("ExecuteStatement") == 3
    assert queue.take("DescribeStatement") is None
    taken = [queue.take("ExecuteStatement") for _ in range(4)]
    assert taken == ["InternalServerException", "InternalServerException", "ValidationException", None]


def test_clear_removes_every_queued_fault() -> None:
    queue: FaultQueue[float] = FaultQueue()
    queue.add("arn:a", 20.0, count=3)
    queue.clear()
    assert (queue.pending("arn:a"), queue.take("arn:a")) == (0, None)
