"""The template's roles and resource policies, evaluated by the local IAM as AWS would."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsetl.iam import Caller, LocalIam, Principal, ServiceCaller, evaluate
from rsetl.redshift_data import local_workgroup_id
from rsetl.template import LocalTemplate, load_template

PROJECT_DIR = Path(__file__).resolve().parents[2]
OWNER_KEY = "redshift-data:statement-owner-iam-userid"


def _iam(**parameters: str) -> tuple[LocalTemplate, LocalIam]:
    template = load_template(PROJECT_DIR / "template.yaml", parameter_overrides=parameters)
    return template, LocalIam(template)


@pytest.fixture(scope="module")
def serverless() -> tuple[LocalTemplate, LocalIam]:
    return _iam(WorkgroupName="default-workgroup", WorkgroupId=local_workgroup_id("default-workgroup"))


def _caller(template: LocalTemplate, iam: LocalIam, function_logical_id: str) -> Caller:
    return iam.function_caller(template.resources[function_logical_id])


@pytest.mark.parametrize(
    "function", ["CheckStatementFunction", "CancelStatementFunction", "ExecuteStepFunction"]
)
def test_every_statement_function_sees_the_statements_execute_step_submitted(
    serverless: tuple[LocalTemplate, LocalIam], function: str
) -> None:
    """Each function is its own role session (`aws:userid` = `<RoleId>:<FunctionName>`, "AWS global
    condition context keys", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
    so a `statement-owner-iam-userid = ${aws:userid}` condition let only ExecuteStepFunction check
    its statements; the template scopes the condition to the role instead. The old condition fails
    this test: CheckStatementFunction was denied DescribeStatement."""
    template, iam = serverless
    submitter = _caller(template, iam, "ExecuteStepFunction")
    caller = _caller(template, iam, function)
    owner = {OWNER_KEY: submitter.userid}
    for action in ("DescribeStatement", "CancelStatement", "GetStatementResult"):
        assert iam.denial(caller, f"redshift-data:{action}", "*", owner) is None


def test_the_statement_role_cannot_touch_another_roles_statements(
    serverless: tuple[LocalTemplate, LocalIam],
) -> None:
    template, iam = serverless
    check = _caller(template, iam, "CheckStatementFunction")
    quarantine = _caller(template, iam, "QuarantineFileFunction")
    message = iam.denial(check, "redshift-data:DescribeStatement", "*", {OWNER_KEY: quarantine.userid})
    assert message == (
        "User: arn:aws:sts::000000000000:assumed-role/rsetl-StatementRole/rsetl-CheckStatementFunction"
        " is not authorized to perform: redshift-data:DescribeStatement on resource: * because no"
        " identity-based policy allows the redshift-data:DescribeStatement action"
    )
    assert (
        iam.denial(quarantine, "redshift-data:DescribeStatement", "*", {OWNER_KEY: quarantine.userid}) is None
    )
    assert iam.denial(quarantine, "redshift-data:CancelStatement", "*", {OWNER_KEY: quarantine.userid})


def test_each_role_allows_what_its_functions_call(serverless: tuple[LocalTemplate, LocalIam]) -> None:
    template, iam = serverless
    workgroup_id = local_workgroup_id("default-workgroup")
    workgroup = f"arn:aws:redshift-serverless:us-east-1:000000000000:workgroup/{workgroup_id}"
    bucket = template.resources["LandingBucket"].arn
    bus = template.resources["PipelineEventBus"].arn
    allowed = {
        "ExecuteStepFunction": [
            ("redshift-data:ExecuteStatement", workgroup), ("redshift-data:BatchExecuteStatement", workgroup),
            ("redshift-serverless:GetCredentials", workgroup),
        ],
        "EmitEventFunction": [("events:PutEvents", bus)],
        "QuarantineFileFunction": [
            ("redshift-data:ExecuteStatement", workgroup), ("s3:GetObject", f"{bucket}/sales/x.csv"),
            ("s3:DeleteObject", f"{bucket}/reference/stores/x.csv"),
            ("s3:PutObject", f"{bucket}/quarantine/sales/x.csv"),
            ("s3:ListBucket", bucket),
        ],
    }  # fmt: skip
    for function, calls in allowed.items():
        caller = _caller(template, iam, function)
        for action, resource in calls:
            assert iam.denial(caller, action, resource) is None, (function, action, resource)
    prepare = _caller(template, iam, "PrepareRunFunction")
    assert iam.denial(prepare, "redshift-data:ExecuteStatement", workgroup)
    emit = _caller(template, iam, "EmitEventFunction")
    assert iam.denial(emit, "events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/default")
    quarantine = _caller(template, iam, "QuarantineFileFunction")
    assert iam.denial(quarantine, "s3:PutObject", f"{bucket}/sales/x.csv")


def test_rules_may_start_the_state_machine_and_only_the_quarantine_rule_invokes_its_function(
    serverless: tuple[LocalTemplate, LocalIam],
) -> None:
    """EventBridge invokes a Lambda target on the strength of the function's resource-based policy
    (`AWS::Lambda::Permission` with `aws:SourceArn` = the rule) and a state machine with the
    target's role ("Using resource-based policies for Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html)."""
    template, iam = serverless
    machine = template.resources["RunPipelineStateMachine"].arn
    function = template.resources["QuarantineFileFunction"].arn
    rule = template.resources["QuarantineFileFunctionQuarantineFailedIngest"].attributes["Arn"]
    other_rule = template.resources["RunPipelineStateMachineIngestSalesOnUpload"].attributes["Arn"]
    assert (
        iam.service_denial(
            ServiceCaller("events.amazonaws.com", rule, "000000000000"), "lambda:InvokeFunction", function
        )
        is None
    )
    assert iam.service_denial(
        ServiceCaller("events.amazonaws.com", other_rule, "000000000000"), "lambda:InvokeFunction", function
    )
    role_arn = template.resources["RunPipelineStateMachineIngestSalesOnUploadRole"].arn
    events = ServiceCaller("events.amazonaws.com", other_rule, "000000000000")
    assert iam.callers.may_assume(role_arn, events)
    assert not iam.callers.may_assume(
        role_arn, ServiceCaller("states.amazonaws.com", machine, "000000000000")
    )
    session = iam.callers.session(role_arn, "events")
    assert iam.denial(session, "states:StartExecution", machine) is None
    assert iam.denial(session, "lambda:InvokeFunction", function)


def test_a_customer_managed_key_of_the_secret_may_decrypt_through_secrets_manager_only() -> None:
    """Reading a secret encrypted with a customer managed key needs kms:Decrypt on the key
    ("Secret encryption and decryption in AWS Secrets Manager",
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html)."""
    secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:rsetl-db-AbCdEf"
    key = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    template, iam = _iam(ClusterIdentifier="etl", WorkgroupName="", SecretArn=secret, SecretKmsKeyArn=key)
    caller = _caller(template, iam, "ExecuteStepFunction")
    assert iam.denial(caller, "secretsmanager:GetSecretValue", secret) is None
    via = {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    assert iam.denial(caller, "kms:Decrypt", key, via) is None
    assert iam.denial(caller, "kms:Decrypt", key)
    template, iam = _iam(ClusterIdentifier="etl", WorkgroupName="", SecretArn=secret)
    assert iam.denial(_caller(template, iam, "ExecuteStepFunction"), "kms:Decrypt", key, via)


def test_the_copy_role_may_read_the_landing_bucket_and_transport_must_be_secure() -> None:
    """COPY reads the bucket as the role Redshift assumes; the bucket policy grants it, and denies
    any request without TLS (`aws:SecureTransport`, "Security best practices for Amazon S3",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html)."""
    copy_role = "arn:aws:iam::000000000000:role/redshift-copy"
    template, iam = _iam(
        WorkgroupName="etl-wg", WorkgroupId=local_workgroup_id("etl-wg"), CopyRoleArn=copy_role
    )
    bucket = template.resources["LandingBucket"].arn
    assert template.outputs["LandingBucketArn"] == bucket
    policy = iam.resource_policy(f"{bucket}/sales/x.csv")
    assert policy is not None
    role = Principal(arns=(copy_role,), account="000000000000")
    tls = {"aws:SecureTransport": True}
    assert evaluate(
        "s3:GetObject", f"{bucket}/sales/x.csv", tls, resource_policy=policy, principal=role
    ).allowed
    assert evaluate("s3:ListBucket", bucket, tls, resource_policy=policy, principal=role).allowed
    plain = evaluate(
        "s3:GetObject",
        f"{bucket}/sales/x.csv",
        {"aws:SecureTransport": False},
        resource_policy=policy,
        principal=role,
    )
    assert plain.denied_by == "resource-based policy"
    _, without = _iam(WorkgroupName="etl-wg", WorkgroupId=local_workgroup_id("etl-wg"))
    assert not evaluate(
        "s3:GetObject",
        f"{bucket}/x",
        tls,
        resource_policy=without.resource_policy(f"{bucket}/x"),
        principal=role,
    ).allowed


def test_the_refresh_roles_may_do_what_the_coalesced_refresh_needs_and_no_more(
    serverless: tuple[LocalTemplate, LocalIam],
) -> None:
    """RequestRefresh starts only RefreshViews executions; RefreshViews lists its own executions and
    runs RunPipeline with `startExecution.sync:2`, which needs StartExecution on the child machine,
    DescribeExecution and StopExecution on its executions and the managed rule's PutTargets, PutRule,
    DescribeRule ("IAM policies for AWS Step Functions", Synchronous,
    https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html)."""
    template, iam = serverless
    refresh_machine = template.resources["RefreshViewsStateMachine"].arn
    run_machine = template.resources["RunPipelineStateMachine"].arn
    requester = _caller(template, iam, "RequestRefreshFunction")
    assert iam.denial(requester, "states:StartExecution", refresh_machine) is None
    assert iam.denial(requester, "states:StartExecution", run_machine)
    role = template.resources["RefreshViewsRole"].arn
    assert iam.callers.may_assume(
        role, ServiceCaller("states.amazonaws.com", refresh_machine, "000000000000")
    )
    session = iam.callers.session(role, "refresh")
    child = run_machine.replace(":stateMachine:", ":execution:") + ":refresh-sales-views-20261202T031500Z-0"
    rule = "arn:aws:events:us-east-1:000000000000:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    assert iam.denial(session, "states:ListExecutions", refresh_machine) is None
    assert iam.denial(session, "states:StartExecution", run_machine) is None
    assert iam.denial(session, "states:DescribeExecution", child) is None
    assert iam.denial(session, "events:PutRule", rule) is None
    assert iam.denial(session, "states:StartExecution", refresh_machine)
    assert iam.denial(session, "states:ListExecutions", run_machine)
