"""Creates, in the local services, what the template declares: nothing is wired by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from rsetl.clock import Clock
from rsetl.eventbridge import EventBridge, Scheduler, apply_event_bus, apply_rule, apply_schedule
from rsetl.lambdas.asynchronous import AsyncInvoker, EventInvokeConfig
from rsetl.lambdas.event_source_mapping import Invoker, SqsMapping, SqsPoller
from rsetl.s3 import S3Service
from rsetl.sqs import SqsService
from rsetl.template import LocalResource, LocalTemplate, state_machine_definition

EMULATED_TYPES = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::EventBus",
        "AWS::Events::Rule",
        "AWS::Scheduler::Schedule",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::EventSourceMapping",
    }
)
"""Resource types the local runtime creates and runs."""

ACCEPTED_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Events::EventBusPolicy",
        "AWS::CloudWatch::Alarm",
    }
)
"""Resource types that shape access, logging or monitoring on AWS: IAM roles and policies, Lambda
permissions and bucket policies are enforced by `rsetl.iam`; the others are read and not enforced."""


@dataclass
class WiringReport:
    """What start-up did with each resource, for the ready line and `rsetl local up`'s log."""

    created: dict[str, list[str]] = field(default_factory=dict)
    not_enforced: list[str] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)

    def add(self, resource: LocalResource) -> None:
        self.created.setdefault(resource.type, []).append(resource.logical_id)


def not_emulated(template: LocalTemplate) -> list[LocalResource]:
    """Resources of types the runtime neither emulates nor knowingly leaves unenforced."""
    return template.unsupported(set(EMULATED_TYPES | ACCEPTED_TYPES))


def not_emulated_names(template: LocalTemplate) -> list[str]:
    """`LogicalId (Type)` of each resource the runtime does not emulate, as start-up reports them."""
    return [f"{r.logical_id} ({r.type})" for r in not_emulated(template)]


def wire_buckets(template: LocalTemplate, s3: S3Service, report: WiringReport) -> None:
    for bucket in template.of_type("AWS::S3::Bucket"):
        config = bucket.properties.get("NotificationConfiguration") or {}
        eventbridge = bool((config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"))
        s3.create_bucket(bucket.ref, eventbridge=eventbridge, region=template.region)
        report.add(bucket)


def wire_queues(template: LocalTemplate, sqs: SqsService, report: WiringReport) -> None:
    """Each queue after the dead-letter queue its RedrivePolicy names, as CloudFormation orders them
    (the policy's `!GetAtt <Queue>.Arn` is a dependency)."""
    pending = template.of_type("AWS::SQS::Queue")
    while pending:
        created = set(sqs.queue_arns())
        ready = [q for q in pending if _dead_letter_target(q) in created | {None}]
        if not ready:
            names = ", ".join(q.logical_id for q in pending)
            raise RuntimeError(
                f"{names}: each RedrivePolicy names a queue the template does not create first"
            )
        for queue in ready:
            sqs.create_queue(queue.attributes["QueueName"], queue.properties)
            report.add(queue)
        pending = [q for q in pending if q not in ready]


def _dead_letter_target(queue: LocalResource) -> str | None:
    policy = queue.properties.get("RedrivePolicy")
    if isinstance(policy, str):
        policy = json.loads(policy)
    return None if not policy else str(policy.get("deadLetterTargetArn"))


def wire_event_invoke_configs(template: LocalTemplate, invoker: AsyncInvoker, report: WiringReport) -> None:
    """Each function's retries, event age and destinations for asynchronous invocation."""
    for config in template.of_type("AWS::Lambda::EventInvokeConfig"):
        name = str(config.properties["FunctionName"])
        function = template.by_arn(name) or template.resources.get(name)
        if function is None:
            raise RuntimeError(
                f"{config.logical_id}: FunctionName {name!r} names no function of the template"
            )
        invoker.configure(function.arn, EventInvokeConfig.from_properties(config.properties))
        report.add(config)


def wire_event_source_mappings(
    template: LocalTemplate,
    sqs: SqsService,
    invoker: Invoker,
    clock: Clock,
    may_poll: Callable[[str, str, str], str | None],
    report: WiringReport,
) -> list[SqsPoller]:
    """A poller for each AWS::Lambda::EventSourceMapping (SAM's `Events: Type: SQS`), checked as
    CreateEventSourceMapping checks it, its function's role included (`may_poll(role, function name,
    queue)` gives the refusal or None); started by the caller."""
    pollers = []
    for resource in template.of_type("AWS::Lambda::EventSourceMapping"):
        props = resource.properties
        source = str(props.get("EventSourceArn", ""))
        if not source.startswith("arn:aws:sqs:"):
            raise RuntimeError(
                f"{resource.logical_id}: EventSourceArn {source!r}: the local runtime maps SQS queues only"
            )
        name = str(props.get("FunctionName", ""))
        function = template.by_arn(name)
        if function is None or function.type != "AWS::Lambda::Function":
            raise RuntimeError(
                f"{resource.logical_id}: FunctionName {name!r} names no function of the template"
            )
        refusal = may_poll(str(function.properties.get("Role", "")), function.ref, source)
        if refusal is not None:
            raise RuntimeError(f"{resource.logical_id}: InvalidParameterValueException: {refusal}")
        mapping = SqsMapping.from_properties(
            resource.logical_id,
            props,
            function_arn=function.arn,
            function_timeout_seconds=float(function.properties.get("Timeout", 3)),
            visibility_timeout_seconds=int(sqs.attribute(source, "VisibilityTimeout") or 30),
            fifo=sqs.attribute(source, "FifoQueue") == "true",
        )
        pollers.append(SqsPoller(mapping, sqs, invoker, clock, template.region))
        report.add(resource)
    return pollers


def wire_event_buses(template: LocalTemplate, bridge: EventBridge, report: WiringReport) -> None:
    for bus in template.of_type("AWS::Events::EventBus"):
        apply_event_bus(bridge, {**bus.properties, "Name": bus.ref})
        report.add(bus)


def wire_rules(template: LocalTemplate, bridge: EventBridge, report: WiringReport) -> None:
    for rule in template.of_type("AWS::Events::Rule"):
        apply_rule(bridge, {**rule.properties, "Name": rule.ref}, rule.logical_id)
        report.add(rule)


def wire_schedules(template: LocalTemplate, scheduler: Scheduler, report: WiringReport) -> None:
    for schedule in template.of_type("AWS::Scheduler::Schedule"):
        apply_schedule(scheduler, {**schedule.properties, "Name": schedule.ref}, schedule.logical_id)
        report.add(schedule)


def state_machines(template: LocalTemplate) -> list[tuple[LocalResource, str]]:
    """Each state machine with its definition, substitutions applied, as JSON text."""
    return [
        (machine, json.dumps(state_machine_definition(machine)))
        for machine in template.of_type("AWS::StepFunctions::StateMachine")
    ]
