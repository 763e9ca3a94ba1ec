"""IAM of the runtime's in-process calls: state machine tasks and EventBridge deliveries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rsetl.eventbridge.delivery import Delivery
from rsetl.iam import LocalIam
from rsetl.runtime.access import InProcessAccess
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.integrations import TaskRequest
from rsetl.template import LocalTemplate, load_template

PROJECT_DIR = Path(__file__).resolve().parents[3]
EXECUTION = "arn:aws:states:us-east-1:000000000000:execution:rsetl-RunPipelineStateMachine:run-1"


@dataclass
class _Machine:
    role_arn: str


@dataclass
class _Execution:
    state_machine_arn: str


class _Engine:
    """The two look-ups InProcessAccess makes of the Step Functions engine."""

    def __init__(self, machine_arn: str, role_arn: str) -> None:
        self.machine_arn, self.role_arn = machine_arn, role_arn

    def execution(self, arn: str) -> _Execution:
        return _Execution(self.machine_arn)

    def machine(self, arn: str) -> _Machine:
        return _Machine(self.role_arn)


@pytest.fixture(scope="module")
def template() -> LocalTemplate:
    return load_template(PROJECT_DIR / "template.yaml", config_env="local")


def _access(template: LocalTemplate, role_logical_id: str = "StateMachineRole") -> InProcessAccess:
    machine = template.resources["RunPipelineStateMachine"]
    engine: Any = _Engine(machine.arn, template.resources[role_logical_id].arn)
    return InProcessAccess(LocalIam(template), engine)


def _task(function: str) -> TaskRequest:
    return TaskRequest(
        resource="arn:aws:states:::lambda:invoke", service="lambda", action="invoke", pattern="",
        parameters={}, state_name="Prepare", execution_arn=EXECUTION, region="us-east-1",
        account_id="000000000000",
    )  # fmt: skip


def test_the_state_machine_role_invokes_its_functions_and_no_other(template: LocalTemplate) -> None:
    """A Lambda task runs with the state machine's role; a denied invoke fails the task with
    `Lambda.AWSLambdaException` and Lambda's AccessDeniedException as the cause (as AWS reports
    it, e.g. https://github.com/awslabs/aws-deployment-framework/issues/460)."""
    access = _access(template)
    for logical_id in ("PrepareRunFunction", "ExecuteStepFunction", "EmitEventFunction"):
        access.lambda_task(_task(""), template.resources[logical_id].arn)
    access.lambda_task(_task(""), template.resources["CheckStatementFunction"].arn + ":$LATEST")
    with pytest.raises(StatesError) as denied:
        access.lambda_task(_task(""), template.resources["QuarantineFileFunction"].ref)
    assert denied.value.error == "Lambda.AWSLambdaException"
    assert "assumed-role/rsetl-StateMachineRole/" in denied.value.cause
    assert "is not authorized to perform: lambda:InvokeFunction on resource: " in denied.value.cause
    assert "Error Code: AccessDeniedException" in denied.value.cause


def test_step_functions_must_be_trusted_by_the_state_machine_role(template: LocalTemplate) -> None:
    machine = template.resources["RunPipelineStateMachine"].arn
    access = _access(template)
    assert access.state_machine_trust(machine, template.resources["StateMachineRole"].arn) is None
    untrusted = access.state_machine_trust(machine, template.resources["StatementRole"].arn)
    assert untrusted is not None and "states.amazonaws.com" in untrusted


def _delivery(target_arn: str, rule_arn: str, role_arn: str | None = None) -> Delivery:
    return Delivery(
        event_id="e-1", event_time=datetime(2026, 11, 6, tzinfo=UTC), source="rsetl.pipeline", target_id="t",
        target_arn=target_arn, payload="{}", dead_letter_body="{}", rule_arn=rule_arn, role_arn=role_arn,
    )  # fmt: skip


def test_rules_reach_their_targets_only_as_the_template_allows(template: LocalTemplate) -> None:
    """EventBridge starts a state machine with the target's role (trusted by events.amazonaws.com)
    and invokes a Lambda on its resource-based policy, which names the rule as aws:SourceArn
    ("Using resource-based policies for Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html)."""
    access = _access(template)
    machine = template.resources["RunPipelineStateMachine"].arn
    function = template.resources["QuarantineFileFunction"].arn
    ingest_rule = template.resources["RunPipelineStateMachineIngestSalesOnUpload"]
    quarantine_rule = template.resources["QuarantineFileFunctionQuarantineFailedIngest"].attributes["Arn"]
    role = template.resources["RunPipelineStateMachineIngestSalesOnUploadRole"].arn
    assert access.delivery(_delivery(machine, ingest_rule.attributes["Arn"], role)) is None
    assert access.delivery(_delivery(function, quarantine_rule)) is None
    code, message = access.delivery(_delivery(function, ingest_rule.attributes["Arn"])) or ("", "")
    assert code == "NO_PERMISSIONS" and "lambda:InvokeFunction" in message
    assert access.delivery(_delivery(machine, ingest_rule.attributes["Arn"])) is not None
    state_machine_role = template.resources["StateMachineRole"].arn
    assert access.delivery(_delivery(machine, ingest_rule.attributes["Arn"], state_machine_role)) == (
        "FAILED_TO_ASSUME_ROLE", f"events.amazonaws.com is not authorized to assume {state_machine_role}"
    )  # fmt: skip


def test_only_this_stacks_rules_may_send_to_the_dead_letter_queue(template: LocalTemplate) -> None:
    """The DLQ's queue policy must let events.amazonaws.com `sqs:SendMessage` for the rule
    ("Using dead-letter queues to process undelivered events", granting permissions to the DLQ,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
    access = _access(template)
    queue = template.resources["TriggerDeadLetterQueue"].arn
    machine = template.resources["RunPipelineStateMachine"].arn
    for rule in template.of_type("AWS::Events::Rule"):
        failed = _delivery(machine, rule.attributes["Arn"])
        assert access.dead_letter(replace(failed, dead_letter_arn=queue)) is None
    stranger = _delivery(machine, "arn:aws:events:us-east-1:000000000000:rule/someone-elses")
    refused = access.dead_letter(replace(stranger, dead_letter_arn=queue))
    assert refused is not None and "sqs:SendMessage" in refused


def _nested(pattern: str) -> TaskRequest:
    return TaskRequest(
        resource=f"arn:aws:states:::states:startExecution.{pattern}".removesuffix("."), service="states",
        action="startExecution", pattern=pattern, parameters={}, state_name="RefreshViews",
        execution_arn=EXECUTION, region="us-east-1", account_id="000000000000",
    )  # fmt: skip


def test_a_nested_start_needs_start_execution_and_with_sync_the_describe_stop_and_managed_rule(
    template: LocalTemplate,
) -> None:
    """Nested workflows ("IAM policies for AWS Step Functions",
    https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html): StartExecution on the
    child; `.sync` also DescribeExecution and StopExecution on its executions and PutTargets, PutRule,
    DescribeRule on rule/StepFunctionsGetEventsForStepFunctionsExecutionRule. A denied start fails the
    task with `StepFunctions.AWSStepFunctionsException`."""
    child = template.resources["RunPipelineStateMachine"].arn
    refresh_views = _access(template, "RefreshViewsRole")
    refresh_views.states_task(_nested(""), child)
    refresh_views.states_task(_nested("sync:2"), child)
    with pytest.raises(StatesError) as denied:
        refresh_views.states_task(_nested("sync:2"), template.resources["RefreshViewsStateMachine"].arn)
    assert denied.value.error == "StepFunctions.AWSStepFunctionsException"
    assert "is not authorized to perform: states:StartExecution on resource: " in denied.value.cause
    assert "Error Code: AccessDeniedException" in denied.value.cause

    run_pipeline = _access(template)  # its role starts no state machine
    with pytest.raises(StatesError) as denied:
        run_pipeline.states_task(_nested(""), child)
    assert "states:StartExecution" in denied.value.cause
