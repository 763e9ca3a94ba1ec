"""The local Step Functions engine: executions and task tokens over the registry of state machines."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from rsetl.arn import execution_arn
from rsetl.awsproto.clients import LOCAL_KEYS
from rsetl.clock import Clock
from rsetl.journal import Journal
from rsetl.stepfunctions.build import build_program
from rsetl.stepfunctions.exceptions import ExecutionAlreadyExists, ExecutionDoesNotExist, StepFunctionsError
from rsetl.stepfunctions.history import HISTORY_EVENT_LIMIT, History
from rsetl.stepfunctions.integrations import (
    AwsSdkIntegration,
    EventsIntegration,
    IntegrationRegistry,
    LambdaIntegration,
    LambdaInvoker,
    StatesIntegration,
    TaskAuthorizer,
    TaskCredentials,
)
from rsetl.stepfunctions.interpreter import Execution, Interpreter
from rsetl.stepfunctions.machines import StateMachine, StateMachines, check_name
from rsetl.stepfunctions.restarts import (
    Restart,
    abort_interrupted,
    execution_row,
    journaled_execution,
    restart_name,
)
from rsetl.stepfunctions.states import Program
from rsetl.stepfunctions.tokens import TaskTokens

logger = logging.getLogger(__name__)


class StepFunctionsEngine:
    """Holds state machines and executions, and runs executions with the interpreter."""

    def __init__(
        self,
        clock: Clock,
        *,
        integrations: IntegrationRegistry | None = None,
        lambda_invoker: LambdaInvoker | None = None,
        lambda_authorizer: TaskAuthorizer | None = None,
        states_authorizer: TaskAuthorizer | None = None,
        task_credentials: TaskCredentials | None = None,
        endpoint_url: str | None = None,
        credentials: tuple[str, str] = LOCAL_KEYS,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        history_limit: int = HISTORY_EVENT_LIMIT,
        concurrent_branches: bool | None = None,
        status_events: Callable[[dict[str, Any]], object] | None = None,
        journal: Journal | None = None,
    ) -> None:
        """With a `journal`, executions and their histories are written through to it, and the ones
        it holds are loaded now (see :meth:`restart_interrupted` for those that were RUNNING).
        `credentials` (access key, secret) sign the SDK and EventBridge calls that no
        `task_credentials` sign as the execution's role."""
        self.clock = clock
        self._journal = journal
        self._status_events = status_events
        self.region = region
        self.account_id = account_id
        self.tokens = TaskTokens()
        self.integrations = integrations or default_integrations(
            self,
            lambda_invoker,
            endpoint_url,
            region,
            lambda_authorizer,
            task_credentials,
            credentials,
            states_authorizer,
        )
        self.interpreter = Interpreter(
            clock,
            self.integrations,
            self.tokens,
            region=region,
            account_id=account_id,
            concurrent_branches=concurrent_branches,
            history_limit=history_limit,
            on_end=self._ended,
        )
        self._lock = threading.Lock()
        self.machines = StateMachines(clock, region, account_id)
        self.executions: dict[str, Execution] = {}
        self._interrupted: list[Execution] = []
        if journal is not None:
            self._load(journal)

    # -- state machines --------------------------------------------------------------------

    def machine_arn(self, name: str) -> str:
        return self.machines.arn(name)

    def create_state_machine(
        self,
        name: str,
        definition: str,
        role_arn: str = "",
        machine_type: str = "STANDARD",
        substitutions: Mapping[str, Any] | None = None,
    ) -> StateMachine:
        """Register a machine; the same name and definition again returns the existing one."""
        return self.machines.create(name, definition, role_arn, machine_type, substitutions)

    def machine(self, arn: str) -> StateMachine:
        return self.machines.machine(arn)

    # -- executions ------------------------------------------------------------------------

    def start_execution(
        self,
        machine_arn: str,
        input_value: Any = None,
        name: str | None = None,
        *,
        wait: bool = False,
        input_text: str | None = None,
    ) -> Execution:
        """Start an execution in its own thread, or run it here to its end when `wait`; `input_text` is
        the input as the caller wrote it (what DescribeExecution answers)."""
        machine = self.machine(machine_arn)
        return self._start(
            machine, machine.definition, machine.program, machine.role_arn, input_value, name,
            wait=wait, input_text=input_text,
        )  # fmt: skip

    def _start(
        self,
        machine: StateMachine,
        definition: dict[str, Any],
        program: Program,
        role_arn: str,
        input_value: Any,
        name: str | None,
        *,
        wait: bool = False,
        input_text: str | None = None,
    ) -> Execution:
        """Start an execution of `machine` that runs `definition` (built as `program`) as `role_arn`."""
        name = name or str(uuid.uuid4())
        check_name(name, "execution")
        arn = execution_arn(self.region, self.account_id, machine.name, name)
        execution = Execution(
            arn=arn,
            name=name,
            state_machine_arn=machine.arn,
            state_machine_name=machine.name,
            program=program,
            definition=definition,
            input={} if input_value is None else input_value,
            history=self._new_history(arn),
            role_arn=role_arn,
            start_date=self.clock.now(),
            given_input=input_text,
        )
        with self._lock:
            if arn in self.executions:
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
            self.executions[arn] = execution
        if self._journal is not None:
            # Journaled, with the definition it runs, before StartExecution answers: a crash from
            # here on restarts it, on that definition.
            text = machine.definition_text if definition is machine.definition else json.dumps(definition)
            with self._journal.transaction():
                self._journal.save_execution(execution_row(execution, text))
                self._publish_status(execution)  # one commit: the start and its event
        else:
            self._publish_status(execution)
        if wait:
            self.interpreter.run(execution)
        else:
            threading.Thread(
                target=self.interpreter.run, args=(execution,), name=f"sfn-{name}", daemon=True
            ).start()
        return execution

    def _new_history(self, arn: str, events: Iterable[dict[str, Any]] = ()) -> History:
        """An execution's history; with a journal, each event is written through as it is added."""
        journal = self._journal
        if journal is None:
            return History(self.clock, self.interpreter.history_limit, events=events)

        def write_through(event: dict[str, Any]) -> None:
            journal.add_history_event(arn, event)

        return History(self.clock, self.interpreter.history_limit, on_add=write_through, events=events)

    def _ended(self, execution: Execution) -> None:
        """The end is on disk before anything hears of it (its status event, those waiting on it):
        an end lost in a crash would run a finished execution again at the next start."""
        if self._journal is None:
            self._publish_status(execution)
            return
        with self._journal.transaction():
            self._journal.save_execution(execution_row(execution))
            # The event commits with the end, and its deliveries start after the commit.
            self._publish_status(execution)

    def _load(self, journal: Journal) -> None:
        histories = journal.histories()
        for row in journal.executions():
            execution = journaled_execution(row, self._new_history(row.arn, histories.get(row.arn, ())))
            if execution.status == "RUNNING":
                self._interrupted.append(execution)
            self.executions[row.arn] = execution

    def restart_interrupted(self) -> list[Restart]:
        """End each execution the journal held as RUNNING, and start it again from its input
        (:mod:`rsetl.stepfunctions.restarts`).

        One that cannot be restarted is reported with its error; the others go on.
        """
        with self._lock:
            interrupted, self._interrupted = self._interrupted, []
        restarts = []
        for execution in interrupted:
            try:
                restarts.append(self._restart(execution))
            except Exception as exc:  # one bad journal entry must not keep the runtime from starting
                logger.exception("cannot restart %s", execution.arn)
                restarts.append(Restart(execution.arn, None, f"{type(exc).__name__}: {exc}"))
        return restarts

    def _restart(self, execution: Execution) -> Restart:
        machine = self.machines.get(execution.state_machine_arn)
        new_arn = new_name = None
        if machine is not None:
            new_name = restart_name(execution.name, self._name_taken)
            new_arn = execution_arn(self.region, self.account_id, machine.name, new_name)
        abort_interrupted(execution, new_arn, self.clock.now())
        self._ended(execution)
        execution.done.set()
        if machine is not None:
            # A journal written before definitions were kept has none: the machine's is the only one.
            definition = execution.definition or machine.definition
            program = machine.program if definition == machine.definition else build_program(definition)
            self._start(
                machine, definition, program, execution.role_arn, execution.input, new_name,
                input_text=execution.given_input,
            )  # fmt: skip
        return Restart(execution.arn, new_arn)

    def _name_taken(self, name: str) -> bool:
        with self._lock:
            return any(e.name == name for e in self.executions.values())

    def _publish_status(self, execution: Execution) -> None:
        """A "Step Functions Execution Status Change" event, as Standard workflows send to the default bus.

        Step Functions events in EventBridge:
        https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
        """
        if self._status_events is None:
            return
        finished = execution.status != "RUNNING"
        detail = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": _epoch_ms(execution.start_date),
            "stopDate": _epoch_ms(execution.stop_date) if finished else None,
            "input": execution.input_text,
            "output": json.dumps(execution.output) if execution.status == "SUCCEEDED" else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if execution.status == "SUCCEEDED" else None,
            "error": execution.error,
            "cause": execution.cause,
            "redriveCount": 0,
        }
        entry = {
            "Source": "aws.states",
            "DetailType": "Step Functions Execution Status Change",
            "Detail": json.dumps(detail),
            "Resources": [execution.arn],
        }
        try:
            self._status_events(entry)
        except Exception:
            # The event is a notification: a bus that cannot take it must not leave the execution open.
            logger.exception("cannot send the status change event of %s", execution.arn)

    def execution(self, arn: str) -> Execution:
        with self._lock:
            execution = self.executions.get(arn)
        if execution is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return execution

    def stop_execution(self, arn: str, error: str = "", cause: str = "") -> Execution:
        """Ask a running execution to stop; it ends ABORTED at its next step."""
        execution = self.execution(arn)
        if execution.status == "RUNNING":
            execution.stop_error, execution.stop_cause = error, cause
            execution.stop_requested.set()
            self.tokens.wake_execution(arn)
        return execution

    def wait(self, arn: str, timeout: float | None = None) -> Execution:
        """Block (in real time) until an execution has ended."""
        execution = self.execution(arn)
        execution.done.wait(timeout)
        return execution

    def describe(self, execution: Execution) -> dict[str, Any]:
        """DescribeExecution's fields for an execution."""
        description: dict[str, Any] = {
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.start_date,
            "input": execution.input_text,
            "inputDetails": {"included": True},
        }
        if execution.stop_date is not None:
            description["stopDate"] = execution.stop_date
        if execution.status == "SUCCEEDED":
            description["output"] = json.dumps(execution.output)
            description["outputDetails"] = {"included": True}
        if execution.error is not None:
            description["error"] = execution.error
            description["cause"] = execution.cause or ""
        return description

    def start_for_task(
        self, parameters: Mapping[str, Any], wait: bool, parent_execution_arn: str
    ) -> dict[str, Any]:
        """`states:startExecution` from a Task state (ExecutionStarter)."""
        machine_arn = parameters.get("StateMachineArn")
        if not isinstance(machine_arn, str):
            raise StepFunctionsError("states:startExecution needs a StateMachineArn")
        child_input = parameters.get("Input", {})
        if isinstance(child_input, str):
            child_input = json.loads(child_input)
        if not wait:
            return self.describe(self.start_execution(machine_arn, child_input, parameters.get("Name")))
        # The parent waits for its child: on a VirtualClock only the child takes part meanwhile.
        with self.clock.idle():
            child = self.start_execution(machine_arn, child_input, parameters.get("Name"), wait=True)
        return self.describe(child)

    # -- callbacks -------------------------------------------------------------------------

    def send_task_success(self, token: str, output: Any) -> None:
        self.tokens.succeed(token, output)

    def send_task_failure(self, token: str, error: str = "", cause: str = "") -> None:
        self.tokens.fail(token, error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        self.tokens.heartbeat(token)


def default_integrations(
    engine: StepFunctionsEngine,
    lambda_invoker: LambdaInvoker | None,
    endpoint_url: str | None,
    region: str,
    lambda_authorizer: TaskAuthorizer | None = None,
    task_credentials: TaskCredentials | None = None,
    credentials: tuple[str, str] = LOCAL_KEYS,
    states_authorizer: TaskAuthorizer | None = None,
) -> IntegrationRegistry:
    """lambda (when a runtime is given), states, aws-sdk and events against `endpoint_url`.

    With `task_credentials`, SDK and EventBridge calls sign as the execution's role, as Step
    Functions makes them; otherwise as the local administrator.
    """
    registry = IntegrationRegistry()
    registry.register("states", StatesIntegration(engine, states_authorizer))
    sdk = AwsSdkIntegration(endpoint_url, region, *credentials, credentials=task_credentials)
    registry.register("aws-sdk", sdk)
    if lambda_invoker is not None:
        registry.register("lambda", LambdaIntegration(lambda_invoker, lambda_authorizer))
    if endpoint_url is not None:
        client_for = (lambda request: sdk.client("events", request)) if task_credentials else None
        registry.register("events", EventsIntegration(sdk.client("events"), client_for))
    return registry


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)
