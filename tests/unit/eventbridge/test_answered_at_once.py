"""Which EventBridge requests the endpoint's server may answer on its event loop."""

from __future__ import annotations

from email.message import Message
from typing import Any

from rsetl.awsproto import AwsRequest
from rsetl.eventbridge.service import EventsService


def _request(target: str) -> AwsRequest:
    headers = Message()
    headers["X-Amz-Target"] = target
    return AwsRequest("POST", "/", "", headers, b"{}")


def test_only_test_event_pattern_is_answered_at_once() -> None:
    """TestEventPattern matches its own input against its own pattern, reading and writing nothing;
    PutEvents journals (fsync) before it answers and rule changes write the bus: those go to the pool."""
    bridge: Any = None
    service = EventsService(bridge)

    assert service.answers_at_once(_request("AWSEvents.TestEventPattern"))
    assert not service.answers_at_once(_request("AWSEvents.PutEvents"))
    assert not service.answers_at_once(_request("AWSEvents.PutRule"))
