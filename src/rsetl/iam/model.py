"""The template's IAM, enforced: roles and their sessions, resource policies, and access checks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsetl.iam.conditions import ContextValue
from rsetl.iam.exceptions import PolicyError
from rsetl.iam.identities import Caller, Callers, Role, ServiceCaller
from rsetl.iam.policy import Evaluation, PolicyDocument, evaluate
from rsetl.template import LocalResource, LocalTemplate

logger = logging.getLogger(__name__)

SECURE_TRANSPORT = True
"""`aws:SecureTransport` of every request to the local endpoint.

The endpoint stands for AWS's HTTPS endpoints, which boto3 and the AWS CLI use by default;
locally it serves plain HTTP on 127.0.0.1 only, so it cannot tell a client that would use
HTTP on AWS. Policies that deny `aws:SecureTransport: false` are evaluated, and do not match.
"""


def denial_message(caller_arn: str, action: str, resource: str, evaluation: Evaluation) -> str:
    """AWS's AccessDenied text for one evaluation."""
    head = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    if evaluation.denied_by:
        return f"{head} with an explicit deny in a {evaluation.denied_by}"
    return f"{head} because no identity-based policy allows the {action} action"


@dataclass(frozen=True)
class CallerAuthorizer:
    """The access checks of one signed caller, as services call them (awsproto's Authorizer)."""

    iam: LocalIam
    caller: Caller

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        return self.iam.denial(self.caller, action, resource, keys)


class LocalIam:
    """Roles, sessions and resource policies of one template, and the decisions over them."""

    def __init__(
        self,
        template: LocalTemplate,
        *,
        now: Callable[[], datetime] | None = None,
        on_denied: Callable[[Caller, str], None] | None = None,
    ) -> None:
        self.account_id = template.account_id
        self.region = template.region
        self.callers = Callers(template.account_id)
        self._now = now
        self.on_denied = on_denied
        self.bucket_policies: dict[str, PolicyDocument] = {}
        self.function_policies: dict[str, PolicyDocument] = {}
        self.queue_policies: dict[str, PolicyDocument] = {}
        self._load(template)

    # -- callers -----------------------------------------------------------------------------

    def function_caller(self, function: LocalResource) -> Caller:
        """The session a function's code signs with: its execution role, session name = its name."""
        role_arn = str(function.properties.get("Role", ""))
        if role_arn not in self.callers.roles:
            raise PolicyError(f"{function.logical_id}: its Role {role_arn!r} is not a role of the template")
        return self.callers.session(role_arn, function.ref)

    def authorizer(self, access_key: str) -> tuple[Caller, CallerAuthorizer] | None:
        caller = self.callers.by_access_key(access_key)
        return None if caller is None else (caller, CallerAuthorizer(self, caller))

    # -- decisions ---------------------------------------------------------------------------

    def denial(
        self, caller: Caller, action: str, resource: str, keys: Mapping[str, Any] | None = None
    ) -> str | None:
        """None when `caller` may do `action` on `resource`; else AWS's AccessDenied message."""
        context: dict[str, ContextValue] = {
            **caller.request_keys(self._now() if self._now else None),
            "aws:SecureTransport": SECURE_TRANSPORT,
            "aws:RequestedRegion": self.region,
            **(keys or {}),
        }
        evaluation = evaluate(
            action, resource, context, identity_policies=caller.policies,
            resource_policy=self.resource_policy(resource), principal=caller.principal,
        )  # fmt: skip
        if evaluation.allowed:
            return None
        message = denial_message(caller.arn, action, resource, evaluation)
        logger.warning("AccessDenied: %s", message)
        if self.on_denied is not None:
            self.on_denied(caller, message)
        return message

    def service_denial(self, service: ServiceCaller, action: str, resource: str) -> str | None:
        """None when a service principal may act on `resource` by its resource-based policy."""
        evaluation = evaluate(
            action, resource, {**service.request_keys(), "aws:SecureTransport": SECURE_TRANSPORT},
            resource_policy=self.resource_policy(resource), principal=service.principal,
        )  # fmt: skip
        if evaluation.allowed:
            return None
        message = (
            f"{service.service} (for {service.source_arn}) is not authorized to perform: {action} on "
            f"resource: {resource} because no resource-based policy allows the {action} action"
        )
        logger.warning("AccessDenied: %s", message)
        return message

    def resource_policy(self, resource: str) -> PolicyDocument | None:
        """The resource-based policy AWS consults for `resource` (bucket policy, function policy)."""
        if resource.startswith("arn:aws:s3:::"):
            return self.bucket_policies.get(resource.removeprefix("arn:aws:s3:::").partition("/")[0])
        if resource.startswith("arn:aws:lambda:"):
            parts = resource.split(":")
            return self.function_policies.get(":".join(parts[:7]))
        if resource.startswith("arn:aws:sqs:"):
            return self.queue_policies.get(resource)
        return None

    # -- loading -----------------------------------------------------------------------------

    def _load(self, template: LocalTemplate) -> None:
        attached: dict[str, list[PolicyDocument]] = {}
        for policy in template.of_type("AWS::IAM::Policy"):
            props = policy.properties
            document = PolicyDocument.parse(
                props.get("PolicyDocument"), f"{policy.logical_id}.PolicyDocument"
            )
            for role_name in props.get("Roles") or []:
                attached.setdefault(str(role_name), []).append(document)
        for role in template.of_type("AWS::IAM::Role"):
            props = role.properties
            documents = [
                PolicyDocument.parse(
                    inline.get("PolicyDocument"), f"{role.logical_id}.Policies.{inline.get('PolicyName')}"
                )
                for inline in props.get("Policies") or []
            ]
            for managed in props.get("ManagedPolicyArns") or []:
                # AWS managed policies are not in the template: locally they grant nothing.
                logger.warning(
                    "%s: managed policy %s is not modelled locally and grants nothing",
                    role.logical_id,
                    managed,
                )
            documents.extend(attached.get(role.ref, []))
            trust = PolicyDocument.parse(
                props.get("AssumeRolePolicyDocument"), f"{role.logical_id}.AssumeRolePolicyDocument",
                resource_based=True,
            )  # fmt: skip
            self.callers.roles[role.arn] = Role(
                role.logical_id, role.ref, role.arn, role.attributes["RoleId"], trust, tuple(documents)
            )
        for bucket_policy in template.of_type("AWS::S3::BucketPolicy"):
            props = bucket_policy.properties
            self.bucket_policies[str(props.get("Bucket"))] = PolicyDocument.parse(
                props.get("PolicyDocument"), f"{bucket_policy.logical_id}.PolicyDocument", resource_based=True
            )
        queues = {q.ref: q.arn for q in template.of_type("AWS::SQS::Queue")}
        for queue_policy in template.of_type("AWS::SQS::QueuePolicy"):
            props = queue_policy.properties
            document = PolicyDocument.parse(
                props.get("PolicyDocument"), f"{queue_policy.logical_id}.PolicyDocument", resource_based=True
            )
            for url in props.get("Queues") or []:
                self.queue_policies[queues.get(str(url), str(url))] = document
        self._load_function_policies(template)

    def _load_function_policies(self, template: LocalTemplate) -> None:
        """AWS::Lambda::Permission resources as the statements of each function's resource policy."""
        functions = {f.ref: f.arn for f in template.of_type("AWS::Lambda::Function")}
        statements: dict[str, list[dict[str, Any]]] = {}
        for permission in template.of_type("AWS::Lambda::Permission"):
            props = permission.properties
            name = str(props.get("FunctionName", ""))
            arn = functions.get(name, name)
            principal = str(props.get("Principal", ""))
            statement: dict[str, Any] = {
                "Sid": permission.logical_id,
                "Effect": "Allow",
                "Principal": {"Service": principal}
                if principal.endswith(".amazonaws.com")
                else {"AWS": principal},
                "Action": str(props.get("Action", "")),
                "Resource": arn,
            }
            conditions: dict[str, Any] = {}
            if props.get("SourceArn"):
                conditions["ArnLike"] = {"AWS:SourceArn": str(props["SourceArn"])}
            if props.get("SourceAccount"):
                conditions["StringEquals"] = {"AWS:SourceAccount": str(props["SourceAccount"])}
            if conditions:
                statement["Condition"] = conditions
            statements.setdefault(arn, []).append(statement)
        for arn, items in statements.items():
            self.function_policies[arn] = PolicyDocument.parse(
                {"Version": "2012-10-17", "Statement": items}, f"{arn} resource policy", resource_based=True
            )
