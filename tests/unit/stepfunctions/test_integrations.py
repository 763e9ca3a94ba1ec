"""Service integrations: resource parsing, aws-sdk through boto3, events, startExecution, callbacks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from rsetl.awsproto import AwsError, JsonService, LocalServer, RequestContext, Router, SigV4Verifier
from rsetl.clock import RealClock, VirtualClock
from rsetl.stepfunctions import (
    AwsSdkIntegration,
    EventsIntegration,
    IntegrationRegistry,
    StatesError,
    StepFunctionsEngine,
    TaskRequest,
)
from rsetl.stepfunctions.integrations import sdk_service


def machine(states: dict[str, Any], start: str = "T") -> str:
    return json.dumps({"StartAt": start, "States": states})


def test_resource_forms_resolve_to_their_integration() -> None:
    marker = object()
    registry = IntegrationRegistry({"lambda": marker, "aws-sdk": marker, "states": marker})  # type: ignore[dict-item]
    fields = {"parameters": {}, "state_name": "T", "execution_arn": "e", "region": "r", "account_id": "a"}
    _, legacy = registry.request("arn:aws:lambda:us-east-1:123456789012:function:fn", **fields)
    assert legacy.is_lambda_arn
    _, sdk = registry.request("arn:aws:states:::aws-sdk:redshiftdata:executeStatement", **fields)
    assert (sdk.service, sdk.action, sdk.pattern) == ("aws-sdk:redshiftdata", "executeStatement", "")
    _, sync = registry.request("arn:aws:states:::states:startExecution.sync:2", **fields)
    assert (sync.service, sync.action, sync.pattern, sync.resource_name) == (
        "states",
        "startExecution",
        "sync:2",
        "startExecution.sync:2",
    )
    with pytest.raises(StatesError, match="No local integration is configured for 'events'"):
        registry.request("arn:aws:states:::events:putEvents", **fields)
    with pytest.raises(StatesError, match="Unsupported Task Resource"):
        registry.request("arn:aws:sqs:nope", **fields)


def test_sdk_service_names_map_to_boto3() -> None:
    assert sdk_service("redshiftdata") == ("redshift-data", "RedshiftData")
    assert sdk_service("sfn") == ("stepfunctions", "Sfn")
    assert sdk_service("dynamodb")[0] == "dynamodb"


class FakeDataApi(JsonService):
    service_name = "redshift-data"

    def execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        if params["Sql"] == "bad":
            raise AwsError("ValidationException", "SQL is bad")
        return {"Id": "stmt-1", "Database": params["Database"]}


@pytest.fixture
def data_api_url() -> Iterator[str]:
    router = Router(SigV4Verifier({"test": "test"}))
    router.register(FakeDataApi())
    with LocalServer(router) as server:
        yield server.url


def test_aws_sdk_task_calls_the_local_endpoint_and_maps_errors(data_api_url: str) -> None:
    registry = IntegrationRegistry({"aws-sdk": AwsSdkIntegration(data_api_url)})
    engine = StepFunctionsEngine(VirtualClock(), integrations=registry)
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:redshiftdata:executeStatement",
                "Parameters": {"Sql.$": "$.sql", "Database": "dev", "WorkgroupName": "wg1"},
                "Catch": [{"ErrorEquals": ["RedshiftData.ValidationException"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
    )
    arn = engine.create_state_machine("sdk", definition).arn
    ok = engine.start_execution(arn, {"sql": "select 1"}, "ok", wait=True)
    assert ok.output == {"Id": "stmt-1", "Database": "dev"}
    scheduled = next(e for e in ok.history.events if e["type"] == "TaskScheduled")
    assert scheduled["taskScheduledEventDetails"]["resourceType"] == "aws-sdk:redshiftdata"
    assert scheduled["taskScheduledEventDetails"]["resource"] == "executeStatement"
    caught = engine.start_execution(arn, {"sql": "bad"}, "bad", wait=True)
    assert caught.output["Error"] == "RedshiftData.ValidationException"
    assert caught.output["Cause"].startswith("SQL is bad (Service: RedshiftData, Status Code: 400")


class WhoAmIDataApi(JsonService):
    service_name = "redshift-data"

    def execute_statement(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return {"Id": context.principal}


def _run_who_am_i(engine: StepFunctionsEngine) -> Any:
    """One execution of an SDK task whose output is the principal that signed its call."""
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:redshiftdata:executeStatement",
                "Parameters": {"Sql": "select 1", "Database": "dev", "WorkgroupName": "wg1"},
                "End": True,
            }
        }
    )
    arn = engine.create_state_machine("sdk", definition).arn
    return engine.start_execution(arn, {}, "run", wait=True)


def test_aws_sdk_tasks_sign_as_the_executions_role_when_given_credentials() -> None:
    """Step Functions makes a task's SDK calls with the state machine's role ("How Step Functions
    works with IAM", https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html)."""
    router = Router(SigV4Verifier({"test": "test", "ASIAROLE": "role-secret"}))
    router.register(WhoAmIDataApi())
    asked: list[str] = []

    def credentials(request: Any) -> tuple[str, str]:
        asked.append(request.execution_arn)
        return "ASIAROLE", "role-secret"

    with LocalServer(router) as server:
        registry = IntegrationRegistry({"aws-sdk": AwsSdkIntegration(server.url, credentials=credentials)})
        engine = StepFunctionsEngine(VirtualClock(), integrations=registry)
        run = _run_who_am_i(engine)
    assert run.output == {"Id": "ASIAROLE"}
    assert asked == [run.arn]


def test_aws_sdk_tasks_without_a_role_sign_with_the_engines_credentials() -> None:
    """An endpoint that knows only the runtime's configured keys still answers the engine's own
    clients: nothing signs with a built-in `test` key."""
    router = Router(SigV4Verifier({"AKIDLOCAL": "local-secret"}))
    router.register(WhoAmIDataApi())
    with LocalServer(router) as server:
        engine = StepFunctionsEngine(
            VirtualClock(), endpoint_url=server.url, credentials=("AKIDLOCAL", "local-secret")
        )
        run = _run_who_am_i(engine)
    assert run.output == {"Id": "AKIDLOCAL"}


class RecordingEvents:
    def __init__(self, failed: int = 0) -> None:
        self.entries: list[dict[str, Any]] = []
        self.failed = failed

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {
            "FailedEntryCount": self.failed,
            "Entries": [{"EventId": str(i)} for i in range(len(Entries))],
        }


def test_put_events_serializes_detail_and_reports_failed_entries() -> None:
    client = RecordingEvents()
    request = TaskRequest(
        resource="arn:aws:states:::events:putEvents",
        service="events",
        action="putEvents",
        pattern="",
        parameters={
            "Entries": [{"Detail": {"state": "SUCCEEDED"}, "DetailType": "Pipeline Succeeded", "Source": "s"}]
        },
        state_name="T",
        execution_arn="e",
        region="us-east-1",
        account_id="000000000000",
    )
    assert EventsIntegration(client).call(request) == {"FailedEntryCount": 0, "Entries": [{"EventId": "0"}]}
    assert client.entries[0]["Detail"] == '{"state": "SUCCEEDED"}'
    with pytest.raises(StatesError) as error:
        EventsIntegration(RecordingEvents(failed=1)).call(request)
    assert error.value.error == "EventBridge.FailedEntry"


def test_start_execution_sync_runs_the_child_to_its_end() -> None:
    engine = StepFunctionsEngine(VirtualClock())
    child = engine.create_state_machine(
        "child",
        machine({"W": {"Type": "Wait", "Seconds": 60, "Next": "P"}, "P": {"Type": "Pass", "End": True}}, "W"),
    )
    failing = engine.create_state_machine("failing", machine({"F": {"Type": "Fail", "Error": "Child"}}, "F"))
    parent = engine.create_state_machine(
        "parent",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn.$": "$.arn", "Input": {"x": 1}},
                    "ResultSelector": {"out.$": "$.Output", "status.$": "$.Status"},
                    "End": True,
                }
            }
        ),
    )
    done = engine.start_execution(parent.arn, {"arn": child.arn}, "p1", wait=True)
    assert done.output == {"out": {"x": 1}, "status": "SUCCEEDED"}
    failed = engine.start_execution(parent.arn, {"arn": failing.arn}, "p2", wait=True)
    assert failed.error == "States.TaskFailed"
    assert failed.cause is not None, "a failed execution has a cause"
    assert json.loads(failed.cause)["Error"] == "Child"


def callback_engine(clock: Any) -> tuple[StepFunctionsEngine, list[str], threading.Event]:
    tokens: list[str] = []
    issued = threading.Event()

    class Catcher:
        def call(self, request: TaskRequest) -> Any:
            tokens.append(request.task_token or "")
            issued.set()
            return {}

    return StepFunctionsEngine(clock, integrations=IntegrationRegistry({"events": Catcher()})), tokens, issued


def test_heartbeat_timeout_and_task_timeout() -> None:
    engine, _, _ = callback_engine(RealClock())
    task = {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken", "End": True}
    beat = engine.create_state_machine("hb", machine({"T": {**task, "HeartbeatSeconds": 1}}))
    missed = engine.start_execution(beat.arn, {}, "hb", wait=True)
    assert (missed.error, missed.cause) == ("States.Timeout", None)
    slow = engine.create_state_machine("to", machine({"T": {**task, "TimeoutSeconds": 1}}))
    execution = engine.start_execution(slow.arn, {}, "to", wait=True)
    assert execution.error == "States.Timeout"
    assert [e["type"] for e in execution.history.events][-3:] == [
        "TaskSubmitted",
        "TaskTimedOut",
        "ExecutionFailed",
    ]


def test_a_missed_heartbeat_is_caught_as_heartbeat_timeout_and_reads_as_timeout() -> None:
    """'Handling errors in Step Functions workflows': States.HeartbeatTimeout is only available inside
    Retry and Catch; the task fails with States.Timeout and no cause, as AWS records it."""
    engine, _, _ = callback_engine(RealClock())
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
        "HeartbeatSeconds": 1,
        "Catch": [
            {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
            {"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Caught"},
        ],
        "End": True,
    }
    states = {"T": task, "Wrong": {"Type": "Fail", "Error": "Wrong"}, "Caught": {"Type": "Pass", "End": True}}
    execution = engine.start_execution(
        engine.create_state_machine("hbc", machine(states)).arn, {}, "c", wait=True
    )
    assert execution.output == {"Error": "States.Timeout", "Cause": ""}
    timed_out = next(e for e in execution.history.events if e["type"] == "TaskTimedOut")
    assert "cause" not in timed_out["taskTimedOutEventDetails"]


def test_parallel_branches_run_concurrently_on_the_real_clock() -> None:
    tokens: dict[str, str] = {}

    class Catcher:
        def call(self, request: TaskRequest) -> Any:
            tokens[request.parameters["branch"]] = request.task_token or ""
            return {}

    engine = StepFunctionsEngine(RealClock(), integrations=IntegrationRegistry({"events": Catcher()}))
    task = {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken", "End": True}
    branches = [
        {"StartAt": "T", "States": {"T": {**task, "Parameters": {"branch": name}}}}
        for name in ("first", "second")
    ]
    definition = machine({"P": {"Type": "Parallel", "Branches": branches, "End": True}}, "P")
    arn = engine.create_state_machine("par", definition).arn
    execution = engine.start_execution(arn, {}, "par")
    # Both branches wait for their token at the same time: neither could finish alone.
    for _ in range(1000):
        if len(tokens) == 2:
            break
        execution.done.wait(0.01)
    assert set(tokens) == {"first", "second"}
    engine.send_task_success(tokens["second"], "second")
    engine.send_task_success(tokens["first"], "first")
    assert engine.wait(execution.arn, 10).output == ["first", "second"]


def test_task_timeout_seconds_bounds_a_blocking_integration() -> None:
    release = threading.Event()

    class Blocking:
        def call(self, request: TaskRequest) -> Any:
            release.wait(30)
            return "too late"

    engine = StepFunctionsEngine(RealClock(), integrations=IntegrationRegistry({"events": Blocking()}))
    task = {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents", "TimeoutSeconds": 1, "End": True}
    arn = engine.create_state_machine("block", machine({"T": task})).arn
    try:
        execution = engine.start_execution(arn, {}, "block", wait=True)
    finally:
        release.set()
    assert execution.error == "States.Timeout"
    timed_out = next(e for e in execution.history.events if e["type"] == "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["resourceType"] == "events"


class CamelCaseStepFunctions(JsonService):
    service_name = "stepfunctions"

    def list_executions(self, params: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        return {"executions": [{"name": "a", "executionArn": params["stateMachineArn"] + ":a"}]}


def test_aws_sdk_parameters_and_results_are_pascal_case_for_a_camel_case_api() -> None:
    """ "Parameters in Step Functions are expressed in PascalCase, even if the native service API is in
    camelCase" ("Learning to use AWS service SDK integrations in Step Functions", API naming
    conventions, https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html);
    the camelCase name is not a parameter of the task."""
    router = Router(SigV4Verifier({"test": "test"}))
    router.register(CamelCaseStepFunctions())
    with LocalServer(router) as server:
        registry = IntegrationRegistry({"aws-sdk": AwsSdkIntegration(server.url)})
        engine = StepFunctionsEngine(VirtualClock(), integrations=registry)

        def run(parameters: dict[str, Any], name: str) -> Any:
            task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions", "End": True}
            arn = engine.create_state_machine(name, machine({"T": {**task, "Parameters": parameters}})).arn
            return engine.start_execution(arn, {}, "run", wait=True)

        machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
        listed = run({"StateMachineArn": machine_arn, "StatusFilter": "RUNNING"}, "pascal")
        camel = run({"stateMachineArn": machine_arn}, "camel")
    assert listed.output == {"Executions": [{"Name": "a", "ExecutionArn": machine_arn + ":a"}]}
    assert camel.status == "FAILED"
    assert camel.error == "Sfn.ValidationException"
    assert "Unknown parameter 'stateMachineArn'" in (camel.cause or "")
