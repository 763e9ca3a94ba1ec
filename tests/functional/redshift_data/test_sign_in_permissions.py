"""The Data API signs in to the database with the caller's identity: those calls need IAM too."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.awsproto import CallerIdentity
from rsetl.iam import PolicyDocument, evaluate
from rsetl.redshift_data import DatabaseAuth, LocalRedshiftData

SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"


class _Policy:
    def __init__(self, actions: list[str]) -> None:
        statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
        self.policy = PolicyDocument.parse({"Version": "2012-10-17", "Statement": [statement]}, "role")

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        if evaluate(action, resource, keys or {}, identity_policies=[self.policy]).allowed:
            return None
        return f"not authorized to perform: {action} on resource: {resource}"


@pytest.mark.parametrize(
    ("target", "needed"),
    [
        ({"WorkgroupName": "etl-wg"}, "redshift-serverless:GetCredentials"),
        ({"WorkgroupName": "etl-wg", "SecretArn": SECRET}, "secretsmanager:GetSecretValue"),
        ({"ClusterIdentifier": "etl", "DbUser": "loader"}, "redshift:GetClusterCredentials"),
        ({"ClusterIdentifier": "etl"}, "redshift:GetClusterCredentialsWithIAM"),
    ],
)
def test_a_submit_needs_the_sign_in_its_authentication_mode_uses(
    make_endpoint: Callable[..., LocalRedshiftData],
    make_client: Callable[..., Any],
    target: dict[str, str],
    needed: str,
) -> None:
    """Secrets Manager needs secretsmanager:GetSecretValue, temporary credentials
    redshift:GetClusterCredentials (cluster) or redshift-serverless:GetCredentials (workgroup)
    ("Configuring IAM permissions", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html)."""
    policies = {
        "without": _Policy(["redshift-data:ExecuteStatement"]),
        "with": _Policy(["redshift-data:ExecuteStatement", needed]),
    }
    endpoint = make_endpoint(
        identities=lambda key: (
            CallerIdentity(f"AROAX:{key}", "role", policies[key]) if key in policies else None
        ),
        credentials={"test": "test", "without": "secret", "with": "secret"},
        # The secret exists and holds a user: only the permission to read it is under test.
        auth=DatabaseAuth(secrets={SECRET: "loader"}),
    )
    request = {**target, "Database": "dev", "Sql": "SELECT 1"}
    with pytest.raises(ClientError) as denied:
        make_client(endpoint.url, "without", "secret").execute_statement(**request)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"perform: {needed} on resource" in denied.value.response["Error"]["Message"]
    assert make_client(endpoint.url, "with", "secret").execute_statement(**request)["Id"]
