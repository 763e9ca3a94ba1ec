"""The local `states` API (AWSStepFunctions.* over JSON 1.0) on top of the engine."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from rsetl import paging
from rsetl.arn import state_machine_arn
from rsetl.awsproto import AwsError, JsonService, RequestContext
from rsetl.stepfunctions.engine import StepFunctionsEngine
from rsetl.stepfunctions.exceptions import (
    InvalidArn,
    InvalidExecutionInput,
    InvalidOutput,
    InvalidToken,
    StateMachineTypeNotSupported,
    StatesApiError,
)
from rsetl.stepfunctions.interpreter import Execution

_MACHINE_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[^:]+$")
_EXECUTION_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:(execution|express):[^:]+:[^:]+$")


def _page(items: list[Any], params: dict[str, Any], default_size: int = 100) -> tuple[list[Any], str | None]:
    return paging.page(
        items,
        params.get("nextToken"),
        int(params.get("maxResults") or default_size),
        lambda token: InvalidToken(f"Invalid pagination token: {token!r}"),
    )


def _json_input(text: Any, what: str, error: type[StatesApiError]) -> Any:
    if text is None:
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise error(f"Invalid {what}: {exc}") from None


RoleTrust = Callable[[str, str], "str | None"]
"""(state machine ARN, role ARN) -> None when Step Functions may assume the role, else AWS's refusal."""


class StatesService(JsonService):
    """AWSStepFunctions operations, answered by a :class:`StepFunctionsEngine`."""

    service_name = "stepfunctions"

    def __init__(self, engine: StepFunctionsEngine, role_trust: RoleTrust | None = None) -> None:
        self.engine = engine
        self._role_trust = role_trust

    def operation_resources(
        self, operation: str, params: dict[str, Any], context: RequestContext
    ) -> list[str]:
        """The state machine or execution a call names (Service Authorization Reference, "Actions,
        resources, and condition keys for AWS Step Functions",
        https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html)."""
        for name in ("executionArn", "stateMachineArn"):
            if isinstance(params.get(name), str):
                return [params[name]]
        return ["*"]

    # -- lookups with AWS's errors ---------------------------------------------------------

    def _execution(self, arn: str) -> Execution:
        if not _EXECUTION_ARN.match(arn):
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        return self.engine.execution(arn)

    def _machine(self, arn: str) -> Any:
        if not _MACHINE_ARN.match(arn):
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        return self.engine.machine(arn)

    # -- state machines --------------------------------------------------------------------

    def create_state_machine(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        if self._role_trust is not None:
            machine_arn = state_machine_arn(self.engine.region, self.engine.account_id, params["name"])
            untrusted = self._role_trust(machine_arn, params.get("roleArn", ""))
            if untrusted is not None:
                raise AwsError("AccessDeniedException", untrusted, 400)
        machine = self.engine.create_state_machine(
            params["name"], params["definition"], params.get("roleArn", ""), params.get("type", "STANDARD")
        )
        return {"stateMachineArn": machine.arn, "creationDate": machine.creation_date}

    def describe_state_machine(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        machine = self._machine(params["stateMachineArn"])
        return {
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": machine.definition_text,
            "roleArn": machine.role_arn,
            "type": machine.type,
            "creationDate": machine.creation_date,
        }

    def list_state_machines(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        machines = sorted(self.engine.machines.values(), key=lambda m: m.name)
        page, token = _page(machines, params)
        result: dict[str, Any] = {
            "stateMachines": [
                {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date}
                for m in page
            ]
        }
        if token:
            result["nextToken"] = token
        return result

    # -- executions ------------------------------------------------------------------------

    def _start(self, params: dict[str, Any], wait: bool) -> Execution:
        machine = self._machine(params["stateMachineArn"])
        input_value = _json_input(params.get("input"), "execution input", InvalidExecutionInput)
        name = params.get("name")
        if name is not None:
            arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{name}"
            existing = self.engine.executions.get(arn)
            # AWS: the same name and input while the execution is still running is idempotent; the
            # input is compared as given, as AWS keeps it.
            given = params.get("input")
            if (
                existing is not None
                and existing.status == "RUNNING"
                and existing.input_text == (given or "{}")
            ):
                return existing
        return self.engine.start_execution(
            machine.arn, input_value, name, wait=wait, input_text=params.get("input")
        )

    def start_execution(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        execution = self._start(params, wait=False)
        return {"executionArn": execution.arn, "startDate": execution.start_date}

    def start_sync_execution(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        machine = self._machine(params["stateMachineArn"])
        if machine.type != "EXPRESS":
            raise StateMachineTypeNotSupported(
                "This operation is not supported by this type of state machine"
            )
        execution = self._start(params, wait=True)
        description = self.engine.describe(execution)
        description.pop("inputDetails", None)
        description.pop("outputDetails", None)
        return {
            **description,
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100},
        }

    def describe_execution(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return self.engine.describe(self._execution(params["executionArn"]))

    def stop_execution(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        execution = self._execution(params["executionArn"])
        self.engine.stop_execution(execution.arn, params.get("error", ""), params.get("cause", ""))
        execution.done.wait(30)
        return {"stopDate": execution.stop_date or self.engine.clock.now()}

    def list_executions(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        machine = self._machine(params["stateMachineArn"])
        status = params.get("statusFilter")
        executions = [
            e
            for e in self.engine.executions.values()
            if e.state_machine_arn == machine.arn and (status is None or e.status == status)
        ]
        executions.sort(key=lambda e: e.start_date or self.engine.clock.now(), reverse=True)
        page, token = _page(executions, params)
        items = []
        for e in page:
            item: dict[str, Any] = {
                "executionArn": e.arn,
                "stateMachineArn": e.state_machine_arn,
                "name": e.name,
                "status": e.status,
                "startDate": e.start_date,
            }
            if e.stop_date is not None:
                item["stopDate"] = e.stop_date
            items.append(item)
        result: dict[str, Any] = {"executions": items}
        if token:
            result["nextToken"] = token
        return result

    def get_execution_history(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        execution = self._execution(params["executionArn"])
        events = list(execution.history.events)
        if params.get("reverseOrder"):
            events.reverse()
        if params.get("includeExecutionData") is False:
            events = [_without_data(event) for event in events]
        page, token = _page(events, params, default_size=1000)
        result: dict[str, Any] = {"events": page}
        if token:
            result["nextToken"] = token
        return result

    # -- callbacks -------------------------------------------------------------------------

    def send_task_success(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        output = _json_input(params["output"], "output", InvalidOutput)
        self.engine.send_task_success(params["taskToken"], output)
        return {}

    def send_task_failure(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        self.engine.send_task_failure(params["taskToken"], params.get("error", ""), params.get("cause", ""))
        return {}

    def send_task_heartbeat(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        self.engine.send_task_heartbeat(params["taskToken"])
        return {}


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    stripped = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("input", "output", "parameters")}
        stripped[key] = value
    return stripped
