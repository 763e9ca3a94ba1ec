"""IAM for the calls the runtime makes in process, as AWS services make them for the template.

Step Functions invokes a Lambda task with the state machine's role; EventBridge starts a
state machine with the rule target's RoleArn, and invokes a Lambda target on the strength of
the function's resource-based policy (`AWS::Lambda::Permission`, `aws:SourceArn` = the rule).
"""

from __future__ import annotations

import hashlib
import string
import uuid

from rsetl.arn import execution_arn, function_arn, rule_arn
from rsetl.eventbridge.delivery import Delivery
from rsetl.iam import Caller, LocalIam, ServiceCaller
from rsetl.stepfunctions import StepFunctionsEngine
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.integrations import TaskRequest

_TARGET_ACTIONS = {
    "states": "states:StartExecution",
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "events": "events:PutEvents",
}


QUEUE_POLL_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
"""What an SQS event-source mapping calls with the function's execution role ("Creating and
configuring an Amazon SQS event source mapping", Execution role permissions,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html)."""


def _session_name(seed: str) -> str:
    """A 32-letter role session name, as Step Functions uses, stable for one execution."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(string.ascii_letters[b % 52] for b in digest)


class InProcessAccess:
    """The IAM checks of state machine tasks and EventBridge deliveries."""

    def __init__(self, iam: LocalIam, engine: StepFunctionsEngine) -> None:
        self.iam = iam
        self.engine = engine

    def state_machine_trust(self, machine_arn: str, role_arn: str) -> str | None:
        """None when Step Functions may assume the state machine's role; else AWS's error text."""
        service = ServiceCaller("states.amazonaws.com", machine_arn, self.iam.account_id)
        if self.iam.callers.may_assume(role_arn, service):
            return None
        return (
            "Neither the global service principal states.amazonaws.com, nor the regional one "
            f"is authorized to assume the provided role: {role_arn}"
        )

    def task_caller(self, request: TaskRequest) -> Caller:
        """The role session an execution's tasks call with: a session of the state machine's role."""
        execution = self.engine.execution(request.execution_arn)
        role_arn = self.engine.machine(execution.state_machine_arn).role_arn
        return self.iam.callers.session(role_arn, _session_name(request.execution_arn))

    def task_credentials(self, request: TaskRequest) -> tuple[str, str]:
        """The keys a task's SDK and EventBridge calls sign with (its execution's role session)."""
        caller = self.task_caller(request)
        return caller.access_key, caller.secret_key

    def lambda_task(self, request: TaskRequest, function: str) -> None:
        """Raise the task error Step Functions reports when its role may not invoke `function`.

        The error is `Lambda.AWSLambdaException` with Lambda's AccessDeniedException as the cause
        (as AWS reports it, e.g. awslabs/aws-deployment-framework issue #460).
        """
        arn = (
            function
            if function.startswith("arn:")
            else function_arn(request.region, request.account_id, function)
        )
        self._task_call(
            request, [("lambda:InvokeFunction", arn)], "Lambda.AWSLambdaException", "AWSLambda", 403
        )

    def states_task(self, request: TaskRequest, machine_arn: str) -> None:
        """Raise the task error Step Functions reports when its role may not start `machine_arn`.

        What a nested execution needs ("IAM policies for AWS Step Functions", nested workflows,
        https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html): StartExecution on
        the child state machine; with `.sync`, also DescribeExecution and StopExecution on its
        executions and PutTargets, PutRule, DescribeRule on the managed rule
        StepFunctionsGetEventsForStepFunctionsExecutionRule. The error is
        `StepFunctions.AWSStepFunctionsException`, the name retriers of nested starts match.
        """
        needed = [("states:StartExecution", machine_arn)]
        if request.pattern.startswith("sync"):
            machine_name = machine_arn.rsplit(":", 1)[-1]
            executions = execution_arn(request.region, request.account_id, machine_name, "*")
            rule = rule_arn(
                request.region, request.account_id, "StepFunctionsGetEventsForStepFunctionsExecutionRule"
            )
            needed += [("states:DescribeExecution", executions), ("states:StopExecution", executions)]
            needed += [
                (action, rule) for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule")
            ]
        self._task_call(request, needed, "StepFunctions.AWSStepFunctionsException", "AWSStepFunctions", 400)

    def _task_call(
        self, request: TaskRequest, needed: list[tuple[str, str]], error: str, service: str, status: int
    ) -> None:
        caller = self.task_caller(request)
        for action, resource in needed:
            message = self.iam.denial(caller, action, resource)
            if message is not None:
                raise StatesError(
                    error,
                    f"{message} (Service: {service}; Status Code: {status}; "
                    f"Error Code: AccessDeniedException; Request ID: {uuid.uuid4()}; Proxy: null)",
                )

    def queue_poll(self, role_arn: str, function_name: str, queue_arn: str) -> str | None:
        """None when the function's execution role may poll `queue_arn`; else Lambda's refusal of
        CreateEventSourceMapping (InvalidParameterValueException)."""
        caller = self.iam.callers.session(role_arn, function_name)
        for action in QUEUE_POLL_ACTIONS:
            if self.iam.denial(caller, action, queue_arn) is not None:
                return f"The provided execution role does not have permissions to call {action[4:]} on SQS"
        return None

    def dead_letter(self, delivery: Delivery) -> str | None:
        """None when the rule may send its failed event to its dead-letter queue: the queue's
        policy must allow `sqs:SendMessage` to events.amazonaws.com for the rule (Amazon
        EventBridge User Guide, "Granting permissions to the dead-letter queue",
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
        if delivery.dead_letter_arn is None:
            return None
        if delivery.schedule_arn and delivery.role_arn:
            # EventBridge Scheduler sends to the DLQ with the schedule's execution role.
            caller = self.iam.callers.session(delivery.role_arn, _session_name(delivery.schedule_arn))
            return self.iam.denial(caller, "sqs:SendMessage", delivery.dead_letter_arn)
        service = ServiceCaller("events.amazonaws.com", delivery.rule_arn or "", self.iam.account_id)
        return self.iam.service_denial(service, "sqs:SendMessage", delivery.dead_letter_arn)

    def delivery(self, delivery: Delivery) -> tuple[str, str] | None:
        """None when EventBridge (or the scheduler) may call the target; else (error code, message)."""
        source_arn = delivery.schedule_arn or delivery.rule_arn or ""
        principal = "scheduler.amazonaws.com" if delivery.schedule_arn else "events.amazonaws.com"
        service = ServiceCaller(principal, source_arn, self.iam.account_id)
        kind = delivery.target_arn.split(":")[2] if delivery.target_arn.count(":") >= 5 else ""
        action = _TARGET_ACTIONS.get(kind)
        if action is None:
            return ("NO_PERMISSIONS", f"The local IAM does not model calls to {delivery.target_arn}.")
        if delivery.role_arn:
            if not self.iam.callers.may_assume(delivery.role_arn, service):
                return (
                    "FAILED_TO_ASSUME_ROLE",
                    f"{principal} is not authorized to assume {delivery.role_arn}",
                )
            caller = self.iam.callers.session(delivery.role_arn, _session_name(source_arn))
            message = self.iam.denial(caller, action, delivery.target_arn)
        else:
            message = self.iam.service_denial(service, action, delivery.target_arn)
        return None if message is None else ("NO_PERMISSIONS", message)
