"""The registry of state machines: AWS's naming rules, and CreateStateMachine's parse-once build."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsetl.arn import state_machine_arn
from rsetl.clock import Clock
from rsetl.stepfunctions.definition import parse_definition
from rsetl.stepfunctions.exceptions import (
    DefinitionError,
    InvalidDefinition,
    InvalidName,
    StateMachineAlreadyExists,
    StateMachineDoesNotExist,
)
from rsetl.stepfunctions.states import Program

__all__ = ["NAME_LIMIT", "StateMachine", "StateMachines", "check_name"]

NAME_LIMIT = 80
_NAME = re.compile(r"^[^\s?*<>{}\[\]\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def check_name(name: str, what: str) -> None:
    """AWS's rules for state machine and execution names (1-80 chars, no spaces or specials)."""
    if not _NAME.match(name):
        raise InvalidName(
            f"Invalid {what} name {name!r}: 1-80 characters without spaces, wildcards, brackets, "
            f"special or control characters"
        )


@dataclass
class StateMachine:
    """A registered state machine."""

    arn: str
    name: str
    definition_text: str
    definition: dict[str, Any]
    role_arn: str
    type: str
    creation_date: datetime
    program: Program
    """The definition's typed states, built once when the machine is created."""


class StateMachines(Mapping[str, StateMachine]):
    """The state machines of one account and region, by ARN."""

    def __init__(self, clock: Clock, region: str, account_id: str) -> None:
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self._lock = threading.Lock()
        self._machines: dict[str, StateMachine] = {}

    def arn(self, name: str) -> str:
        return state_machine_arn(self.region, self.account_id, name)

    def create(
        self,
        name: str,
        definition: str,
        role_arn: str,
        machine_type: str,
        substitutions: Mapping[str, Any] | None,
    ) -> StateMachine:
        """Register a machine; the same name and definition again returns the existing one."""
        check_name(name, "state machine")
        try:
            parsed, program = parse_definition(definition, substitutions)
        except DefinitionError as error:
            raise InvalidDefinition(f"Invalid State Machine Definition: '{error}'") from error
        arn = self.arn(name)
        with self._lock:
            existing = self._machines.get(arn)
            if existing is not None:
                if existing.definition != parsed or existing.role_arn != role_arn:
                    raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
                return existing
            machine = StateMachine(
                arn, name, json.dumps(parsed), parsed, role_arn, machine_type, self.clock.now(), program
            )
            self._machines[arn] = machine
        return machine

    def machine(self, arn: str) -> StateMachine:
        """The machine `arn`, or AWS's StateMachineDoesNotExist."""
        with self._lock:
            machine = self._machines.get(arn)
        if machine is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    def __getitem__(self, arn: str) -> StateMachine:
        with self._lock:
            return self._machines[arn]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._machines))

    def __len__(self) -> int:
        with self._lock:
            return len(self._machines)
