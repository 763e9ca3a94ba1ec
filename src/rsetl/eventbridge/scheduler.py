"""Firing schedules: rules with a ScheduleExpression and EventBridge Scheduler schedules.

On the real clock, :meth:`Scheduler.start` runs a thread that fires schedules as they fall
due. On a :class:`~rsetl.clock.VirtualClock`, :meth:`Scheduler.run_until` fires every due
schedule in time order, moving virtual time to each fire time and waiting for its deliveries.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rsetl.arn import schedule_arn
from rsetl.eventbridge.bus import EventBridge
from rsetl.eventbridge.delivery import Delivery
from rsetl.eventbridge.entries import format_time
from rsetl.eventbridge.exceptions import (
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from rsetl.eventbridge.rules import Rule
from rsetl.eventbridge.schedule import ScheduleExpression
from rsetl.journal import Journal, ScheduleFire

__all__ = ["MissedFires", "Schedule", "Scheduler"]

_FLEXIBLE_MODES = ("OFF", "FLEXIBLE")
MISSED_COUNT_LIMIT = 10_000
"""Missed instants counted per schedule at most (a rate of a minute over a week is 10,080)."""
_POLL_SECONDS = 1.0
_EPSILON = timedelta(seconds=1)


@dataclass
class Schedule:
    """An EventBridge Scheduler schedule (`AWS::Scheduler::Schedule`)."""

    name: str
    group_name: str
    arn: str
    expression: ScheduleExpression
    target: dict[str, Any]
    state: str = "ENABLED"
    start_date: datetime | None = None
    end_date: datetime | None = None
    description: str | None = None
    flexible_time_window: dict[str, Any] | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class MissedFires:
    """The instants a journaled schedule fell due while the runtime was down; none is fired late."""

    schedule_arn: str
    count: int
    """How many (at most MISSED_COUNT_LIMIT: `more` says there were more)."""
    first: datetime
    last: datetime
    more: bool = False


@dataclass
class _Due:
    next_fire: datetime | None
    anchor: datetime
    arn: str
    expression: str


class Scheduler:
    """Fires the schedules of one :class:`EventBridge` on its clock."""

    def __init__(self, bridge: EventBridge) -> None:
        """With :meth:`keep_in`, each fire is journaled with its event, and a restart goes on from
        the last instant fired: no instant fires twice, and a rate keeps its first anchor."""
        self.bridge = bridge
        self.clock = bridge.clock
        self._journal: Journal | None = None
        self._schedules: dict[tuple[str, str], Schedule] = {}
        self._due: dict[tuple[Any, ...], _Due] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._missed: list[MissedFires] = []

    def keep_in(self, journal: Journal) -> None:
        """Journal each schedule's anchor and last fire in `journal`, and resume from what it holds."""
        with self._lock:
            self._journal = journal
            self._due.clear()

    # ----- EventBridge Scheduler schedules

    def schedule_arn(self, name: str, group_name: str = "default") -> str:
        return schedule_arn(self.bridge.region, self.bridge.account_id, name, group_name)

    def create_schedule(
        self,
        name: str,
        schedule_expression: str,
        target: Mapping[str, Any],
        *,
        group_name: str | None = None,
        timezone: str | None = None,
        state: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        flexible_time_window: Mapping[str, Any] | None = None,
        description: str | None = None,
        replace: bool = False,
    ) -> Schedule:
        """CreateSchedule (UpdateSchedule with `replace`); `target` is the API's Target dict."""
        group = group_name or "default"
        expression = ScheduleExpression.parse(schedule_expression, timezone=timezone, allow_at=True)
        if not target.get("Arn"):
            raise ValidationException("Target Arn is required.")
        mode = (flexible_time_window or {"Mode": "OFF"}).get("Mode", "OFF")
        if mode not in _FLEXIBLE_MODES:
            raise ValidationException(f"FlexibleTimeWindow Mode '{mode}' is not one of OFF, FLEXIBLE.")
        if state not in (None, "ENABLED", "DISABLED"):
            raise ValidationException(f"State '{state}' is not one of ENABLED, DISABLED.")
        policy = target.get("RetryPolicy") or {}
        if not 0 <= int(policy.get("MaximumRetryAttempts", 185)) <= 185:
            raise ValidationException("RetryPolicy MaximumRetryAttempts must be between 0 and 185.")
        if not 60 <= int(policy.get("MaximumEventAgeInSeconds", 86400)) <= 86400:
            raise ValidationException("RetryPolicy MaximumEventAgeInSeconds must be between 60 and 86400.")
        with self._lock:
            key = (group, name)
            if key in self._schedules and not replace:
                raise ResourceAlreadyExistsException(f"Schedule {name} already exists.")
            if key not in self._schedules and replace:
                raise ResourceNotFoundException(f"Schedule {name} does not exist.")
            schedule = Schedule(
                name=name,
                group_name=group,
                arn=self.schedule_arn(name, group),
                expression=expression,
                target=dict(target),
                state=state or "ENABLED",
                start_date=start_date.astimezone(UTC) if start_date else None,
                end_date=end_date.astimezone(UTC) if end_date else None,
                description=description,
                flexible_time_window=dict(flexible_time_window or {"Mode": "OFF"}),
                created=self.clock.now(),
            )
            self._schedules[key] = schedule
            return schedule

    def get_schedule(self, name: str, group_name: str | None = None) -> Schedule:
        with self._lock:
            schedule = self._schedules.get((group_name or "default", name))
        if schedule is None:
            raise ResourceNotFoundException(f"Schedule {name} does not exist.")
        return schedule

    def list_schedules(self) -> list[Schedule]:
        with self._lock:
            return [schedule for _, schedule in sorted(self._schedules.items())]

    def resume(self) -> list[MissedFires]:
        """Take up the journaled schedules once start-up has wired the current ones: each goes on from
        its anchor and last fire; the instants that fell due while the runtime was down are not fired
        (a schedule fires at its instants from its StartDate on, never for past ones: "The date, in UTC,
        after which the schedule can begin invoking its target", EventBridge Scheduler API Reference,
        "CreateSchedule", https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html)
        but given here, to be reported. The journal forgets the schedules that are no longer wired, so a
        later one of the same name starts from its own creation."""
        with self._lock:
            self._sync()
            if self._journal is not None:
                wired = {due.arn for due in self._due.values()}
                gone = [arn for arn in self._journal.scheduled() if arn not in wired]
                if gone:
                    with self._journal.transaction():
                        for arn in gone:
                            self._journal.forget_schedule_fire(arn)
            missed, self._missed = self._missed, []
        return missed

    def delete_schedule(self, name: str, group_name: str | None = None) -> None:
        with self._lock:
            if self._schedules.pop((group_name or "default", name), None) is None:
                raise ResourceNotFoundException(f"Schedule {name} does not exist.")

    # ----- firing

    def next_fire_time(self) -> datetime | None:
        """When the next schedule falls due, if any."""
        with self._lock:
            self._sync()
            times = [due.next_fire for due in self._due.values() if due.next_fire is not None]
        return min(times) if times else None

    def fire_due(self) -> int:
        """Fire every schedule due at the clock's current time; returns how many fired."""
        fired = 0
        now = self.clock.now()
        while True:
            with self._lock:
                self._sync()
                due = [
                    (d.next_fire, key) for key, d in self._due.items() if d.next_fire and d.next_fire <= now
                ]
                if not due:
                    return fired
                fire_time, key = min(due)
                entry = self._due[key]
                entry.next_fire = self._following(key, fire_time)
            due_now = self._resolve(key)
            if due_now is None:
                continue
            # Locks are taken before the journal's, never inside it.
            with self.bridge.journaled():
                # The fire and its event commit together: a crash leaves both or neither.
                if self._journal is not None:
                    self._journal.save_schedule_fire(
                        entry.arn, ScheduleFire(entry.expression, entry.anchor, fire_time)
                    )
                self._fire(due_now, fire_time)
            fired += 1

    def run_until(self, moment: datetime) -> int:
        """Fire every schedule due up to `moment` in order, moving the virtual clock; returns the count."""
        advance_to = getattr(self.clock, "advance_to", None)
        if advance_to is None:
            raise TypeError("run_until needs a clock that can jump, such as rsetl.clock.VirtualClock.")
        fired = 0
        while True:
            upcoming = self.next_fire_time()
            if upcoming is None or upcoming > moment:
                break
            advance_to(upcoming)
            fired += self.fire_due()
            self.bridge.wait_idle()
        advance_to(moment)
        return fired

    def start(self) -> None:
        """Fire schedules from a background thread as the clock reaches them."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="eventbridge-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.fire_due()
            upcoming = self.next_fire_time()
            wait = _POLL_SECONDS
            if upcoming is not None:
                wait = min(wait, max((upcoming - self.clock.now()).total_seconds(), 0.0))
            # Real-time wait, bounded so new rules and a moved virtual clock are noticed.
            self._stop.wait(max(wait, 0.01))

    def _sync(self) -> None:
        """Track the enabled scheduled rules and schedules; forget removed or changed ones."""
        now = self.clock.now()
        wanted: dict[tuple[Any, ...], tuple[datetime, str, str]] = {}
        key: tuple[Any, ...]
        for rule in self.bridge.rules():
            if rule.schedule is not None and rule.enabled:
                key = ("rule", rule.bus_name, rule.name, rule.schedule.text, rule.created)
                wanted[key] = (rule.created or now, rule.arn, rule.schedule.text)
        for schedule in self._schedules.values():
            if schedule.state == "ENABLED":
                key = ("schedule", schedule.group_name, schedule.name, schedule.created)
                anchor = schedule.start_date or schedule.created or now
                wanted[key] = (anchor, schedule.arn, schedule.expression.text)
        for key in list(self._due):
            if key not in wanted:
                gone = self._due.pop(key)
                if self._journal is not None:
                    # Deleted, disabled, changed or re-created: one of its name later starts afresh.
                    with self._journal.transaction():
                        self._journal.forget_schedule_fire(gone.arn)
        for key, (anchor, arn, expression) in wanted.items():
            if key in self._due:
                continue
            after = max(now, anchor)
            fired = self._journal.schedule_fire(arn) if self._journal is not None else None
            resumed = fired if fired is not None and fired.expression == expression else None
            if resumed is not None:
                anchor = resumed.anchor
                after = max(now, resumed.last_fire or now)
            elif self._journal is not None:
                with self._journal.transaction():
                    self._journal.save_schedule_fire(arn, ScheduleFire(expression, anchor, None))
            self._due[key] = _Due(None, anchor, arn, expression)
            if resumed is not None:
                self._note_missed(key, resumed, now)
            self._due[key].next_fire = self._following(key, after, first=fired is None)

    def _note_missed(self, key: tuple[Any, ...], fired: ScheduleFire, now: datetime) -> None:
        """Keep, for :meth:`resume`, the instants of a resumed schedule from its last fire up to `now`."""
        count, first, last = 0, None, None
        moment = self._following(key, fired.last_fire or fired.anchor, first=fired.last_fire is None)
        while moment is not None and moment <= now and count < MISSED_COUNT_LIMIT:
            count, first, last = count + 1, first or moment, moment
            moment = self._following(key, moment)
        if first is not None and last is not None:
            more = moment is not None and moment <= now
            self._missed.append(MissedFires(self._due[key].arn, count, first, last, more))

    def _following(self, key: tuple[Any, ...], after: datetime, *, first: bool = False) -> datetime | None:
        due = self._due[key]
        if key[0] == "rule":
            rule = self.bridge.describe_rule(key[2], key[1])
            assert rule.schedule is not None
            return rule.schedule.next_after(after, anchor=due.anchor)
        schedule = self._schedules[(key[1], key[2])]
        if first and schedule.start_date is not None and schedule.expression.kind == "cron":
            # A cron schedule may fire exactly at its StartDate.
            after = max(after, schedule.start_date) - _EPSILON
        fire = schedule.expression.next_after(after, anchor=due.anchor)
        if fire is not None and schedule.end_date is not None and fire > schedule.end_date:
            return None
        return fire

    def _resolve(self, key: tuple[Any, ...]) -> Rule | Schedule | None:
        """The scheduled rule or schedule a due key stands for (None once it is gone)."""
        if key[0] == "rule":
            try:
                return self.bridge.describe_rule(key[2], key[1])
            except ResourceNotFoundException:
                return None
        with self._lock:
            return self._schedules.get((key[1], key[2]))

    def _fire(self, fired: Rule | Schedule, fire_time: datetime) -> None:
        if isinstance(fired, Rule):
            self.bridge.fire_scheduled_rule(fired, fire_time)
        else:
            self._deliver_schedule(fired, fire_time)

    def _deliver_schedule(self, schedule: Schedule, fire_time: datetime) -> None:
        target = schedule.target
        execution_id = str(uuid.uuid4())
        template = target.get("Input") or "{}"

        def payload(attempt: int) -> str:
            # EventBridge Scheduler's context attributes, filled in the Input text.
            values = {
                "<aws.scheduler.schedule-arn>": schedule.arn,
                "<aws.scheduler.scheduled-time>": format_time(fire_time),
                "<aws.scheduler.execution-id>": execution_id,
                "<aws.scheduler.attempt-number>": str(attempt),
            }
            text = str(template)
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            return text

        self.bridge.dispatcher.submit(
            Delivery(
                event_id=execution_id,
                event_time=fire_time,
                source="aws.scheduler",
                target_id=schedule.name,
                target_arn=target["Arn"],
                payload=payload(1),
                dead_letter_body=payload(1),
                schedule_arn=schedule.arn,
                payload_for_attempt=payload,
                **Delivery.retry_settings(target),
            )
        )
