"""The local EventBridge: event buses, rules, targets, PutEvents and TestEventPattern.

:class:`EventBridge` is the Python API the runtime and the other local services use
(`publish` for events of `aws.*` sources); :mod:`rsetl.eventbridge.service` puts the
`events` wire API in front of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from rsetl.arn import DEFAULT_BUS, event_bus_arn, rule_arn
from rsetl.awsproto.router import LOCAL_ACCOUNT_ID, LOCAL_REGION
from rsetl.clock import Clock, RealClock
from rsetl.eventbridge.delivery import Delivery, DeliveryRecord, RetryBackoff
from rsetl.eventbridge.dispatcher import Dispatcher
from rsetl.eventbridge.entries import (
    PutEventRecord,
    check_entries,
    entry_error,
    format_time,
    new_event,
    parse_test_event,
)
from rsetl.eventbridge.exceptions import (
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from rsetl.eventbridge.pattern import EventPattern
from rsetl.eventbridge.rules import EventBus, Rule, bus_name_of, merge_targets, pattern_text, validate_request
from rsetl.eventbridge.schedule import ScheduleExpression
from rsetl.eventbridge.targets import DeadLetterQueues, FaultInjector, TargetInvoker
from rsetl.eventbridge.transform import RuleContext, render_target_input
from rsetl.journal import EventRow, Journal

__all__ = ["EventBridge", "PutEventRecord"]


class EventBridge:
    """Local EventBridge for one account and region.

    Deliveries run on a worker pool through `invoker` (wire target ARNs to local state
    machines and functions there); `wait_idle` blocks until they are all done.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        invoker: TargetInvoker | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = LOCAL_REGION,
        backoff: RetryBackoff | None = None,
        workers: int = 8,
    ) -> None:
        self.clock: Clock = clock or RealClock()
        self.account_id = account_id
        self.region = region
        self.invoker = invoker or TargetInvoker()
        self.faults = FaultInjector()
        self.dead_letters = DeadLetterQueues()
        self.dispatcher = Dispatcher(
            self.clock,
            self.invoker,
            dead_letters=self.dead_letters,
            faults=self.faults,
            backoff=backoff,
            workers=workers,
        )
        self._lock = threading.RLock()
        self._buses: dict[str, EventBus] = {}
        self._rules: dict[tuple[str, str], Rule] = {}
        self._events: list[PutEventRecord] = []
        self._journal: Journal | None = None
        self._create_bus(DEFAULT_BUS, None)

    def keep_in(self, journal: Journal) -> None:
        """Load the events and deliveries `journal` holds, and journal every later one in it.

        An accepted event and its deliveries are written (durably) before PutEvents answers; the
        deliveries that had not ended wait for :meth:`redeliver_unfinished`.
        """
        loaded = [
            PutEventRecord(row.id, row.bus, row.event, row.received_at, row.matched_rules)
            for row in journal.events()
        ]
        with self._lock:
            self._events.extend(loaded)
            self._journal = journal
        self.dispatcher.keep_in(journal)

    def redeliver_unfinished(self) -> list[DeliveryRecord]:
        """Make again the journaled deliveries the last run had not ended (at least once, as on AWS)."""
        return self.dispatcher.redeliver_unfinished()

    def journaled(self) -> AbstractContextManager[None]:
        """Writes inside commit together, durably, when it ends (nothing without a journal)."""
        return self._journal.transaction() if self._journal is not None else nullcontext()

    # ----- ARNs and names

    def bus_arn(self, name: str) -> str:
        return event_bus_arn(self.region, self.account_id, name)

    def rule_arn(self, name: str, bus_name: str = DEFAULT_BUS) -> str:
        return rule_arn(self.region, self.account_id, name, bus_name)

    # ----- buses

    def create_event_bus(self, name: str, description: str | None = None) -> EventBus:
        validate_request("CreateEventBus", Name=name, Description=description)
        if name == DEFAULT_BUS:
            raise ValidationException(f"Event bus name '{name}' is not valid.")
        with self._lock:
            if name in self._buses:
                raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
            return self._create_bus(name, description)

    def _create_bus(self, name: str, description: str | None) -> EventBus:
        now = self.clock.now()
        bus = EventBus(name, self.bus_arn(name), description, now, now)
        self._buses[name] = bus
        return bus

    def describe_event_bus(self, name: str | None = None) -> EventBus:
        return self._bus(bus_name_of(name))

    def list_event_buses(self, name_prefix: str | None = None) -> list[EventBus]:
        with self._lock:
            return [bus for name, bus in sorted(self._buses.items()) if name.startswith(name_prefix or "")]

    def delete_event_bus(self, name: str) -> None:
        bus_name = bus_name_of(name)
        if bus_name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        with self._lock:
            if any(rule_bus == bus_name for rule_bus, _ in self._rules):
                raise ValidationException(f"Cannot delete event bus {bus_name}: it still has rules.")
            self._buses.pop(bus_name, None)

    def _bus(self, name: str) -> EventBus:
        with self._lock:
            bus = self._buses.get(name)
        if bus is None:
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        return bus

    # ----- rules

    def put_rule(
        self,
        name: str,
        *,
        event_pattern: str | Mapping[str, Any] | None = None,
        schedule_expression: str | None = None,
        state: str | None = None,
        description: str | None = None,
        role_arn: str | None = None,
        event_bus_name: str | None = None,
    ) -> Rule:
        """Create or update a rule (PutRule); returns it."""
        validate_request(
            "PutRule", Name=name, ScheduleExpression=schedule_expression, State=state,
            EventPattern=event_pattern if isinstance(event_pattern, str) else None,
            Description=description, RoleArn=role_arn, EventBusName=event_bus_name,
        )  # fmt: skip
        bus_name = bus_name_of(event_bus_name)
        self._bus(bus_name)
        if event_pattern is None and not schedule_expression:
            raise ValidationException("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if schedule_expression and bus_name != DEFAULT_BUS:
            raise ValidationException("ScheduleExpression is supported only on the default event bus.")
        pattern = EventPattern(event_pattern) if event_pattern is not None else None
        schedule = ScheduleExpression.parse(schedule_expression) if schedule_expression else None
        with self._lock:
            existing = self._rules.get((bus_name, name))
            rule = Rule(
                name=name,
                bus_name=bus_name,
                arn=self.rule_arn(name, bus_name),
                state=state or (existing.state if existing else "ENABLED"),
                pattern=pattern,
                pattern_text=pattern_text(event_pattern, pattern),
                schedule=schedule,
                description=description,
                role_arn=role_arn,
                targets=existing.targets if existing else {},
                created=existing.created if existing and existing.schedule == schedule else self.clock.now(),
            )
            self._rules[(bus_name, name)] = rule
            return rule

    def describe_rule(self, name: str, event_bus_name: str | None = None) -> Rule:
        return self._rule(name, bus_name_of(event_bus_name))

    def list_rules(self, name_prefix: str | None = None, event_bus_name: str | None = None) -> list[Rule]:
        bus_name = bus_name_of(event_bus_name)
        self._bus(bus_name)
        with self._lock:
            return [
                rule
                for (rule_bus, name), rule in sorted(self._rules.items())
                if rule_bus == bus_name and name.startswith(name_prefix or "")
            ]

    def rules(self) -> list[Rule]:
        """Every rule on every bus."""
        with self._lock:
            return list(self._rules.values())

    def delete_rule(self, name: str, event_bus_name: str | None = None, force: bool = False) -> None:
        bus_name = bus_name_of(event_bus_name)
        with self._lock:
            rule = self._rules.get((bus_name, name))
            if rule is None:
                return
            if rule.targets and not force:
                raise ValidationException("Rule can't be deleted since it has targets.")
            del self._rules[(bus_name, name)]

    def set_rule_state(self, name: str, enabled: bool, event_bus_name: str | None = None) -> None:
        """EnableRule / DisableRule."""
        rule = self._rule(name, bus_name_of(event_bus_name))
        with self._lock:
            rule.state = "ENABLED" if enabled else "DISABLED"

    def _rule(self, name: str, bus_name: str) -> Rule:
        with self._lock:
            rule = self._rules.get((bus_name, name))
        if rule is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus_name}.")
        return rule

    # ----- targets

    def put_targets(
        self, rule_name: str, targets: Sequence[Mapping[str, Any]], event_bus_name: str | None = None
    ) -> None:
        """Add or replace targets (PutTargets) given as API `Target` dicts."""
        rule = self._rule(rule_name, bus_name_of(event_bus_name))
        with self._lock:
            rule.targets = merge_targets(rule.targets, targets)

    def list_targets_by_rule(self, rule_name: str, event_bus_name: str | None = None) -> list[dict[str, Any]]:
        rule = self._rule(rule_name, bus_name_of(event_bus_name))
        with self._lock:
            return [dict(target) for target in rule.targets.values()]

    def remove_targets(self, rule_name: str, ids: Iterable[str], event_bus_name: str | None = None) -> None:
        rule = self._rule(rule_name, bus_name_of(event_bus_name))
        with self._lock:
            rule.targets = {key: value for key, value in rule.targets.items() if key not in set(ids)}

    # ----- events

    def put_events(self, entries: Sequence[Mapping[str, Any]], *, trusted: bool = False) -> dict[str, Any]:
        """PutEvents: returns `{"FailedEntryCount", "Entries"}` with an EventId or an error per entry.

        `trusted` callers (the local AWS services) may use `aws.*` sources.
        """
        check_entries(entries)
        with self.journaled():
            results = [self._put_entry(entry, trusted) for entry in entries]
        return {"FailedEntryCount": sum("ErrorCode" in result for result in results), "Entries": results}

    def publish(self, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The hook for local services to emit events (S3 Object Created, Data API status change)."""
        return self.put_events(entries, trusted=True)

    def _put_entry(self, entry: Mapping[str, Any], trusted: bool) -> dict[str, str]:
        error = entry_error(entry, trusted)
        if error is not None:
            return {"ErrorCode": error[0], "ErrorMessage": error[1]}
        bus_name = bus_name_of(entry.get("EventBusName"))
        with self._lock:
            if bus_name not in self._buses:
                return {
                    "ErrorCode": "ResourceNotFoundException",
                    "ErrorMessage": f"Event bus {bus_name} does not exist.",
                }
        now = self.clock.now()
        when = entry.get("Time")
        event = new_event(
            source=entry["Source"],
            detail_type=entry["DetailType"],
            detail=json.loads(entry["Detail"]),
            resources=list(entry.get("Resources") or []),
            time=when if isinstance(when, datetime) else now,
            account=self.account_id,
            region=self.region,
        )
        self.dispatch(event, bus_name, received_at=now)
        return {"EventId": event["id"]}

    def dispatch(self, event: dict[str, Any], bus_name: str, *, received_at: datetime) -> PutEventRecord:
        """Match `event` against the enabled pattern rules of `bus_name` and deliver it to their targets."""
        with self._lock:
            matched = [
                rule
                for (rule_bus, _), rule in sorted(self._rules.items())
                if rule_bus == bus_name
                and rule.enabled
                and rule.pattern is not None
                and rule.pattern.matches(event)
            ]
            record = PutEventRecord(
                event["id"], bus_name, event, received_at, tuple(rule.arn for rule in matched)
            )
            self._events.append(record)
        with self.journaled():
            self._journal_event(record)
            for rule in matched:
                self.deliver_to_rule_targets(rule, event, received_at)
        return record

    def _journal_event(self, record: PutEventRecord) -> None:
        if self._journal is not None:
            self._journal.add_event(
                EventRow(
                    record.event_id, record.bus_name, record.received_at, record.event, record.matched_rules
                )
            )

    def fire_scheduled_rule(self, rule: Rule, fire_time: datetime) -> PutEventRecord:
        """Send a scheduled rule's "Scheduled Event" to its targets (the scheduler calls this)."""
        event = new_event(
            source="aws.events",
            detail_type="Scheduled Event",
            detail={},
            resources=[rule.arn],
            time=fire_time,
            account=self.account_id,
            region=self.region,
        )
        record = PutEventRecord(event["id"], rule.bus_name, event, fire_time, (rule.arn,))
        with self._lock:
            self._events.append(record)
        with self.journaled():
            self._journal_event(record)
            self.deliver_to_rule_targets(rule, event, fire_time)
        return record

    def deliver_to_rule_targets(self, rule: Rule, event: dict[str, Any], received_at: datetime) -> None:
        """Queue one delivery of `event` per target of `rule`."""
        context = RuleContext(rule.arn, rule.name, format_time(received_at))
        event_text = json.dumps(event)
        with self._lock:
            targets = list(rule.targets.values())
        for target in targets:
            self.dispatcher.submit(
                Delivery(
                    event_id=event["id"],
                    event_time=received_at,
                    source=event.get("source", ""),
                    target_id=target["Id"],
                    target_arn=target["Arn"],
                    payload=render_target_input(target, event, context),
                    dead_letter_body=event_text,
                    rule_arn=rule.arn,
                    **Delivery.retry_settings(target),
                )
            )

    def test_event_pattern(
        self, event_pattern: str | Mapping[str, Any], event: str | Mapping[str, Any]
    ) -> bool:
        """TestEventPattern: validates the pattern and the event, then tells whether they match."""
        pattern = EventPattern(event_pattern)
        return pattern.matches(parse_test_event(event))

    # ----- observing

    def events(self) -> list[PutEventRecord]:
        """Every event put on any bus, oldest first."""
        with self._lock:
            return list(self._events)

    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery to a target, oldest first, with its status and attempts."""
        return self.dispatcher.records()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no delivery is pending; False when `timeout` passed first."""
        return self.dispatcher.wait_idle(timeout)

    def close(self) -> None:
        """Stop the delivery workers."""
        self.dispatcher.shutdown()
