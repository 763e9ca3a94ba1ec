"""The local `states` API through the real boto3 client: machines, executions, history, callbacks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rsetl.awsproto import LocalServer, Router, SigV4Verifier
from rsetl.clock import VirtualClock
from rsetl.stepfunctions import IntegrationRegistry, StatesService, StepFunctionsEngine, TaskRequest

WAIT_AND_ECHO = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Echo"},
        "Echo": {"Type": "Pass", "Parameters": {"got.$": "$.value"}, "End": True},
    },
}

CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
            "Parameters": {
                "Entries": [{"Detail": {"token.$": "$$.Task.Token"}, "DetailType": "ask", "Source": "t"}]
            },
            "End": True,
        }
    },
}


class TokenCatcher:
    """An `events` integration that hands out the task token instead of sending an event."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.received = threading.Event()

    def call(self, request: TaskRequest) -> Any:
        self.tokens.append(request.parameters["Entries"][0]["Detail"]["token"])
        self.received.set()
        return {"Entries": [{"EventId": "1"}], "FailedEntryCount": 0}


@pytest.fixture
def catcher() -> TokenCatcher:
    return TokenCatcher()


@pytest.fixture
def sfn(catcher: TokenCatcher) -> Iterator[Any]:
    engine = StepFunctionsEngine(VirtualClock(), integrations=IntegrationRegistry({"events": catcher}))
    router = Router(SigV4Verifier({"test": "test"}))
    router.register(StatesService(engine))
    with LocalServer(router) as server:
        yield boto3.client(
            "stepfunctions",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # StartSyncExecution prefixes the host with "sync-"; the local endpoint is one host.
            config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
        )


def wait_done(sfn: Any, arn: str) -> dict[str, Any]:
    waiter_event = threading.Event()
    for _ in range(500):
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        waiter_event.wait(0.01)
    raise AssertionError(f"execution {arn} did not finish")


def test_create_start_describe_history(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name="echo", definition=json.dumps(WAIT_AND_ECHO), roleArn="arn:aws:iam::000000000000:role/r"
    )["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:echo"
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == "echo"
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["echo"]

    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"value": 7}))
    description = wait_done(sfn, started["executionArn"])
    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"]) == {"got": 7}
    assert (description["stopDate"] - description["startDate"]).total_seconds() == 3600

    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in history] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert history[1]["stateEnteredEventDetails"]["name"] == "Wait"
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == {"got": 7}
    page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=2, reverseOrder=True)
    assert [e["id"] for e in page["events"]] == [6, 5] and page["nextToken"]

    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert [e["name"] for e in listed] == ["run-1"]


def test_execution_names_are_unique_per_machine(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="m", definition=json.dumps(WAIT_AND_ECHO), roleArn="r")[
        "stateMachineArn"
    ]
    first = sfn.start_execution(stateMachineArn=arn, name="same", input='{"value": 1}')
    wait_done(sfn, first["executionArn"])
    with pytest.raises(ClientError) as error:
        sfn.start_execution(stateMachineArn=arn, name="same", input='{"value": 2}')
    assert error.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_the_same_name_and_input_join_an_open_execution_and_a_closed_one_refuses_them(
    sfn: Any, catcher: TokenCatcher
) -> None:
    """StartExecution: "When the original execution is open and the execution input from the new call
    is identical, the Success message is returned"; "When the original execution is closed, the
    ExecutionAlreadyExists message is returned regardless of input" (AWS Step Functions API Reference,
    StartExecution, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
    RefreshViews' one-execution-per-window relies on both (docs/aws.md, "Coalesced view refreshes")."""
    arn = sfn.create_state_machine(name="ask", definition=json.dumps(CALLBACK), roleArn="r")[
        "stateMachineArn"
    ]
    first = sfn.start_execution(stateMachineArn=arn, name="window-1", input='{"window_end": "a"}')
    assert catcher.received.wait(10)
    again = sfn.start_execution(stateMachineArn=arn, name="window-1", input='{"window_end": "a"}')
    assert again["executionArn"] == first["executionArn"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    with pytest.raises(ClientError) as other_input:
        sfn.start_execution(stateMachineArn=arn, name="window-1", input='{"window_end": "b"}')
    assert other_input.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    sfn.send_task_success(taskToken=catcher.tokens[0], output="{}")
    assert wait_done(sfn, first["executionArn"])["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as closed:
        sfn.start_execution(stateMachineArn=arn, name="window-1", input='{"window_end": "a"}')
    assert closed.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_the_input_is_kept_as_given_and_compared_as_given(sfn: Any, catcher: TokenCatcher) -> None:
    """DescribeExecution and the ExecutionStarted event answer the input string StartExecution was
    given; "the execution input from the new call is identical" is that string, so the same value
    written otherwise is another input (AWS Step Functions API Reference, StartExecution,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)."""
    arn = sfn.create_state_machine(name="ask-text", definition=json.dumps(CALLBACK), roleArn="r")[
        "stateMachineArn"
    ]
    given = '{"window_end":"a",  "n": 1}'
    first = sfn.start_execution(stateMachineArn=arn, name="as-given", input=given)
    assert catcher.received.wait(10)
    assert sfn.describe_execution(executionArn=first["executionArn"])["input"] == given
    events = sfn.get_execution_history(executionArn=first["executionArn"])["events"]
    assert events[0]["executionStartedEventDetails"]["input"] == given
    with pytest.raises(ClientError) as rewritten:
        sfn.start_execution(stateMachineArn=arn, name="as-given", input='{"window_end": "a", "n": 1}')
    assert rewritten.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    again = sfn.start_execution(stateMachineArn=arn, name="as-given", input=given)
    assert again["executionArn"] == first["executionArn"]
    sfn.send_task_success(taskToken=catcher.tokens[0], output="{}")
    assert wait_done(sfn, first["executionArn"])["status"] == "SUCCEEDED"


def test_errors_name_what_is_wrong(sfn: Any) -> None:
    with pytest.raises(ClientError) as error:
        sfn.create_state_machine(
            name="bad",
            definition='{"StartAt": "Nope", "States": {"A": {"Type": "Pass", "End": true}}}',
            roleArn="r",
        )
    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "StartAt 'Nope'" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:000000000000:execution:m:none")
    assert error.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    arn = sfn.create_state_machine(name="m2", definition=json.dumps(WAIT_AND_ECHO), roleArn="r")[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as error:
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    assert error.value.response["Error"]["Code"] == "InvalidExecutionInput"


def test_callback_with_send_task_success(sfn: Any, catcher: TokenCatcher) -> None:
    arn = sfn.create_state_machine(name="cb", definition=json.dumps(CALLBACK), roleArn="r")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert catcher.received.wait(10)
    sfn.send_task_heartbeat(taskToken=catcher.tokens[0])
    sfn.send_task_success(taskToken=catcher.tokens[0], output=json.dumps({"approved": True}))
    description = wait_done(sfn, execution)
    assert json.loads(description["output"]) == {"approved": True}
    with pytest.raises(ClientError) as error:
        sfn.send_task_success(taskToken=catcher.tokens[0], output="{}")
    assert error.value.response["Error"]["Code"] == "TaskDoesNotExist"
    types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
    assert "TaskSubmitted" in types and "TaskSucceeded" in types


def test_callback_with_send_task_failure(sfn: Any, catcher: TokenCatcher) -> None:
    arn = sfn.create_state_machine(name="cbf", definition=json.dumps(CALLBACK), roleArn="r")[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert catcher.received.wait(10)
    sfn.send_task_failure(taskToken=catcher.tokens[0], error="Rejected", cause="no")
    description = wait_done(sfn, execution)
    assert (description["status"], description["error"], description["cause"]) == ("FAILED", "Rejected", "no")


def test_stop_execution(sfn: Any, catcher: TokenCatcher) -> None:
    arn = sfn.create_state_machine(name="stop", definition=json.dumps(CALLBACK), roleArn="r")[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert catcher.received.wait(10)
    sfn.stop_execution(executionArn=execution, error="Manual", cause="operator stopped it")
    description = wait_done(sfn, execution)
    assert (description["status"], description["error"]) == ("ABORTED", "Manual")
    assert sfn.get_execution_history(executionArn=execution)["events"][-1]["type"] == "ExecutionAborted"


def test_start_sync_execution_for_express(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name="fast", definition=json.dumps(WAIT_AND_ECHO), roleArn="r", type="EXPRESS"
    )["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input='{"value": "x"}')
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"got": "x"}
    standard = sfn.create_state_machine(name="slow", definition=json.dumps(WAIT_AND_ECHO), roleArn="r")
    with pytest.raises(ClientError) as error:
        sfn.start_sync_execution(stateMachineArn=standard["stateMachineArn"])
    assert error.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
