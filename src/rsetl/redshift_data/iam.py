"""What IAM checks on Data API calls: the actions, their resources, and whose statements a caller sees."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from rsetl.awsproto import RequestContext
from rsetl.redshift_data.statements import DEFAULT_DATABASE

STATEMENT_ACTIONS = {
    "DescribeStatement": "redshift-data:DescribeStatement",
    "CancelStatement": "redshift-data:CancelStatement",
    "GetStatementResult": "redshift-data:GetStatementResult",
    # "The IAM action redshift-data:GetStatementResult allows access to both GetStatementResult
    # and GetStatementResultV2" (Amazon Redshift Management Guide, "Configuring IAM permissions",
    # https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html).
    "GetStatementResultV2": "redshift-data:GetStatementResult",
}
"""Operations on one statement: IAM checks them once the statement's owner is known."""
TARGETED = {
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ListDatabases",
    "ListSchemas",
    "ListTables",
    "DescribeTable",
}
"""Operations whose IAM resource is the cluster or workgroup they run on."""
STATEMENT_OWNER_KEY = "redshift-data:statement-owner-iam-userid"


def authorize_credentials(
    target: Mapping[str, Any], context: RequestContext, workgroup_id: Callable[[str], str]
) -> None:
    """The calls the Data API makes with the caller's identity to sign in to the database:
    GetClusterCredentials (DbUser), GetCredentials (Serverless, IAM identity), or
    GetSecretValue (SecretArn) ("Configuring IAM permissions",
    https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html)."""
    prefix = f"{context.region}:{context.account_id}"
    database = str(target.get("Database") or DEFAULT_DATABASE)
    if target.get("SecretArn"):
        context.authorize("secretsmanager:GetSecretValue", str(target["SecretArn"]))
    elif target.get("WorkgroupName"):
        context.authorize("redshift-serverless:GetCredentials", target_arn(target, context, workgroup_id))
    elif target.get("DbUser"):
        cluster = target["ClusterIdentifier"]
        context.authorize(
            "redshift:GetClusterCredentials",
            f"arn:aws:redshift:{prefix}:dbuser:{cluster}/{target['DbUser']}",
        )
        context.authorize(
            "redshift:GetClusterCredentials", f"arn:aws:redshift:{prefix}:dbname:{cluster}/{database}"
        )
    else:
        cluster = target["ClusterIdentifier"]
        context.authorize(
            "redshift:GetClusterCredentialsWithIAM",
            f"arn:aws:redshift:{prefix}:dbname:{cluster}/{database}",
        )


def target_arn(
    request: Mapping[str, Any], context: RequestContext, workgroup_id: Callable[[str], str]
) -> str:
    """The ARN of the cluster or workgroup a request runs on (`workgroup_id`: a workgroup's ID)."""
    if request.get("WorkgroupName"):
        name = str(request["WorkgroupName"])
        if name.startswith("arn:"):
            return name
        prefix = f"arn:aws:redshift-serverless:{context.region}:{context.account_id}"
        return f"{prefix}:workgroup/{workgroup_id(name)}"
    cluster = request.get("ClusterIdentifier")
    return f"arn:aws:redshift:{context.region}:{context.account_id}:cluster:{cluster}"


def local_workgroup_id(name: str) -> str:
    """A stable UUID for a local workgroup known only by name (AWS assigns one at creation)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rsetl-local:redshift-serverless:workgroup/{name}"))


def owner_of(context: RequestContext) -> str:
    """Whose statements a caller sees: its IAM role's (any session of it), or its own access key's."""
    return f"role/{context.role_name}" if context.role_name else context.principal


def caller_arn(context: RequestContext) -> str:
    if context.role_name:
        session = context.principal.partition(":")[2]
        return f"arn:aws:sts::{context.account_id}:assumed-role/{context.role_name}/{session}"
    return f"arn:aws:iam::{context.account_id}:user/{context.principal}"
