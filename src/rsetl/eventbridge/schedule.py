"""Schedule expressions: `rate(...)`, `cron(...)` (AWS's six fields, via aws-croniter) and `at(...)`.

Cron and `at` expressions are read in the schedule's time zone (EventBridge Scheduler's
`ScheduleExpressionTimezone`; rules always use UTC); fire times are returned in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_croniter import AwsCroniter

from rsetl.eventbridge.exceptions import ValidationException

__all__ = ["ScheduleExpression", "parse_timezone"]

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_UTC_ZONE = ZoneInfo("UTC")


def _invalid(text: str, reason: str) -> ValidationException:
    return ValidationException(f"Parameter ScheduleExpression is not valid: {text}: {reason}")


def parse_timezone(name: str | None) -> ZoneInfo:
    """The IANA time zone `name` (UTC when None)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationException(f"Invalid ScheduleExpressionTimezone '{name}': unknown time zone.") from exc


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed schedule expression; :meth:`next_after` gives the next fire time."""

    text: str
    kind: str
    rate: timedelta | None = None
    cron: AwsCroniter | None = None
    at: datetime | None = None
    timezone: ZoneInfo = _UTC_ZONE

    @classmethod
    def parse(cls, text: str, *, timezone: str | None = None, allow_at: bool = False) -> ScheduleExpression:
        """Parse `text`; `at(...)` is accepted only where EventBridge Scheduler takes it."""
        zone = parse_timezone(timezone)
        expression = text.strip()
        if rate := _RATE.fullmatch(expression):
            value, unit = int(rate.group(1)), rate.group(2)
            if value <= 0:
                raise _invalid(text, "the rate must be positive.")
            if (value == 1) == unit.endswith("s"):
                raise _invalid(text, "use the singular unit for a rate of 1 and the plural otherwise.")
            seconds = value * _UNIT_SECONDS[unit.rstrip("s")]
            return cls(text, "rate", rate=timedelta(seconds=seconds), timezone=zone)
        if cron := _CRON.fullmatch(expression):
            try:
                parsed = AwsCroniter(cron.group(1).strip())
            except ValueError as exc:
                raise _invalid(text, str(exc)) from exc
            return cls(text, "cron", cron=parsed, timezone=zone)
        if allow_at and (at := _AT.fullmatch(expression)):
            moment = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone)
            return cls(text, "at", at=moment.astimezone(UTC), timezone=zone)
        forms = "rate(...), cron(...) or at(...)" if allow_at else "rate(...) or cron(...)"
        raise _invalid(text, f"expected {forms}.")

    def next_after(self, moment: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after `moment`, in UTC; None when the schedule is over.

        A rate schedule fires every `rate` from `anchor` (the time it was created).
        """
        moment = moment.astimezone(UTC)
        if self.rate is not None:
            start = (anchor or moment).astimezone(UTC)
            if moment < start:
                return start + self.rate
            periods = (moment - start) // self.rate + 1
            return start + periods * self.rate
        if self.at is not None:
            return self.at if self.at > moment else None
        assert self.cron is not None
        # aws-croniter works on UTC datetimes: run it on the wall-clock time of the zone.
        local = moment.astimezone(self.timezone).replace(tzinfo=UTC)
        found = self.cron.occurrence(local).next()
        if found is None:
            return None
        fire: datetime = found.replace(tzinfo=self.timezone).astimezone(UTC)
        if fire <= moment:
            # The wall-clock time repeats when clocks go back: move past the repeated hour.
            return self.next_after(moment + timedelta(hours=1))
        return fire
