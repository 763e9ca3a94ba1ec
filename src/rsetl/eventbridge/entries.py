"""Events as EventBridge makes them: the checks of PutEvents entries (botocore's limits, AWS's size
rule) and of TestEventPattern's event, and the event envelope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rsetl.eventbridge.exceptions import ValidationException
from rsetl.eventbridge.rules import EVENTS_MODEL

__all__ = ["PutEventRecord", "check_entries", "entry_error", "format_time", "new_event", "parse_test_event"]

MAX_ENTRIES = int(EVENTS_MODEL.shape_for("PutEventsRequestEntryList").metadata["max"])
"""Entries of one PutEvents request, from botocore's events model."""
MAX_REQUEST_BYTES = 256 * 1024
_TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


@dataclass(frozen=True)
class PutEventRecord:
    """An event that reached a bus, and the rules it matched."""

    event_id: str
    bus_name: str
    event: dict[str, Any]
    received_at: datetime
    matched_rules: tuple[str, ...]


def format_time(moment: datetime) -> str:
    """An event's `time`: ISO 8601 in UTC to the second, as EventBridge writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_event(
    *,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str],
    time: datetime,
    account: str,
    region: str,
) -> dict[str, Any]:
    """An event with a fresh id, as a bus delivers it to the targets of the rules it matches."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": format_time(time),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def check_entries(entries: Sequence[Mapping[str, Any]]) -> None:
    """The checks of a whole PutEvents request: how many entries, and their size."""
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValidationException(
            f"1 validation error detected: Value at 'entries' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_ENTRIES}"
        )
    if sum(_entry_size(entry) for entry in entries) > MAX_REQUEST_BYTES:
        raise ValidationException("Total size of the entries in the request is over the limit.")


def _entry_size(entry: Mapping[str, Any]) -> int:
    # The PutEvents size rule: UTF-8 bytes of Source, DetailType, Detail and Resources, plus 14 for a Time.
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode())
    size += sum(len(str(resource).encode()) for resource in entry.get("Resources") or [])
    return size


def entry_error(entry: Mapping[str, Any], trusted: bool) -> tuple[str, str] | None:
    """The (ErrorCode, ErrorMessage) PutEvents answers for a bad entry; None for a good one."""
    for key in ("Source", "DetailType", "Detail"):
        if not entry.get(key):
            return "InvalidArgument", f"Parameter {key} is not valid. Reason: {key} is a required argument."
    source = str(entry["Source"])
    if source.startswith("aws.") and not trusted:
        return "NotAuthorizedForSourceException", "Not authorized for the source."
    try:
        detail = json.loads(entry["Detail"])
    except (TypeError, ValueError):
        return "MalformedDetail", "Detail is malformed."
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None


def parse_test_event(event: str | Mapping[str, Any]) -> dict[str, Any]:
    """TestEventPattern's Event as a dict, refused when it is not a JSON object with the mandatory fields."""
    if isinstance(event, str):
        try:
            parsed = json.loads(event)
        except ValueError as exc:
            raise ValidationException(f"Parameter Event is not valid: it is not JSON ({exc}).") from exc
    else:
        parsed = dict(event)
    if not isinstance(parsed, dict):
        raise ValidationException("Parameter Event is not valid: it must be a JSON object.")
    missing = [name for name in _TEST_EVENT_FIELDS if name not in parsed]
    if missing:
        raise ValidationException(
            f"Parameter Event is not valid: the event lacks the mandatory field(s) {', '.join(missing)}."
        )
    return parsed
