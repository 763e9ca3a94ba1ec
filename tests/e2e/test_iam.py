"""The template's IAM through the running runtime: each function calls as its own role session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E


def test_a_call_the_role_does_not_allow_is_denied_and_logged_in_the_functions_log(e2e: E2E) -> None:
    """A denied call gets the service's AccessDeniedException naming the caller's role session,
    the action and the resource ("Troubleshoot access denied error messages", IAM User Guide,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html), and the
    function's log says so."""
    prepare = e2e.runtime.template.resources["PrepareRunFunction"].ref
    data = e2e.client_as("PrepareRunFunction", "redshift-data")
    with pytest.raises(ClientError) as denied:
        data.execute_statement(WorkgroupName="default-workgroup", Database="dev", Sql="SELECT 1")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: arn:aws:sts::000000000000:assumed-role/rsetl-PrepareRunRole/{prepare} is not authorized "
        "to perform: redshift-data:ExecuteStatement on resource: arn:aws:redshift-serverless:us-east-1:"
    )
    log = (e2e.runtime.options.state_dir / "logs" / f"{prepare}.log").read_text()
    assert f"[rsetl local IAM] AccessDenied: {error['Message']}" in log


def test_the_quarantine_role_tells_a_missing_file_from_a_forbidden_one(e2e: E2E) -> None:
    """With s3:ListBucket a missing key is 404; without it, 403 (Amazon S3 API Reference,
    GetObject, Permissions, https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""
    quarantine = e2e.client_as("QuarantineFileFunction", "s3")
    with pytest.raises(ClientError) as missing:
        quarantine.get_object(Bucket=e2e.bucket, Key="sales/2026/11/06/never-uploaded.csv")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    emit = e2e.client_as("EmitEventFunction", "s3")
    with pytest.raises(ClientError) as hidden:
        emit.get_object(Bucket=e2e.bucket, Key="sales/2026/11/06/never-uploaded.csv")
    assert hidden.value.response["Error"]["Code"] == "AccessDenied"
    assert hidden.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_administrator_may_do_anything_the_bucket_policy_allows(e2e: E2E) -> None:
    e2e.s3.put_object(Bucket=e2e.bucket, Key="notes/admin.txt", Body=b"x")
    assert e2e.s3.get_object(Bucket=e2e.bucket, Key="notes/admin.txt")["Body"].read() == b"x"
    e2e.s3.delete_object(Bucket=e2e.bucket, Key="notes/admin.txt")


def test_create_state_machine_refuses_a_role_step_functions_may_not_assume(e2e: E2E) -> None:
    """Step Functions must be able to assume the state machine's role: a role whose trust policy does
    not name states.amazonaws.com is refused at CreateStateMachine ("Creating an IAM role for your state
    machine", https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html)."""
    definition = '{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}'
    trusted = e2e.runtime.template.resources["StateMachineRole"].arn
    untrusted = e2e.runtime.template.resources["StatementRole"].arn
    with pytest.raises(ClientError) as refused:
        e2e.sfn.create_state_machine(name="e2e-untrusted-role", definition=definition, roleArn=untrusted)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "states.amazonaws.com" in refused.value.response["Error"]["Message"]
    assert not any(m["name"] == "e2e-untrusted-role" for m in e2e.sfn.list_state_machines()["stateMachines"])
    created = e2e.sfn.create_state_machine(name="e2e-trusted-role", definition=definition, roleArn=trusted)
    assert created["stateMachineArn"].endswith(":stateMachine:e2e-trusted-role")
