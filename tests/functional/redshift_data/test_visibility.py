"""Who sees a Data API statement: every session of the IAM role that ran it, as IAM allows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rsetl.awsproto import CallerIdentity
from rsetl.iam import PolicyDocument, evaluate
from rsetl.redshift_data import LocalRedshiftData

SESSIONS = {"fn-a": ("AROASTATEMENT:fn-a", "StatementRole"), "fn-b": ("AROASTATEMENT:fn-b", "StatementRole"),
            "other": ("AROAOTHER:fn-c", "OtherRole")}  # fmt: skip
RUN = {"Effect": "Allow", "Action": ["redshift-data:ExecuteStatement", "redshift-data:ListStatements",
       "redshift-serverless:GetCredentials"], "Resource": "*"}  # fmt: skip
OWN = ["redshift-data:DescribeStatement", "redshift-data:CancelStatement", "redshift-data:GetStatementResult"]


class _RoleAuthorizer:
    def __init__(self, userid: str, owner_condition: dict[str, Any]) -> None:
        self.userid = userid
        statement = {"Effect": "Allow", "Action": OWN, "Resource": "*", "Condition": owner_condition}
        self.policy = PolicyDocument.parse({"Version": "2012-10-17", "Statement": [RUN, statement]}, "role")

    def denial(self, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> str | None:
        context = {"aws:userid": self.userid, **(keys or {})}
        if evaluate(action, resource, context, identity_policies=[self.policy]).allowed:
            return None
        return f"User: {self.userid} is not authorized to perform: {action} on resource: {resource}"


def _endpoint(
    make_endpoint: Callable[..., LocalRedshiftData], owner_condition: dict[str, Any]
) -> LocalRedshiftData:
    def lookup(key: str) -> CallerIdentity | None:
        if key not in SESSIONS:
            return None
        userid, role = SESSIONS[key]
        return CallerIdentity(userid, role, _RoleAuthorizer(userid, owner_condition))

    return make_endpoint(
        identities=lookup, credentials={"test": "test", **{key: "secret" for key in SESSIONS}}
    )


def _run(client: Any) -> str:
    return str(
        client.execute_statement(WorkgroupName="etl-wg", Database="dev", Sql="SELECT 1", WaitTimeSeconds=5)[
            "Id"
        ]
    )


def test_every_session_of_the_role_sees_its_statements_and_nobody_else_does(
    make_endpoint: Callable[..., LocalRedshiftData], make_client: Callable[..., Any]
) -> None:
    """A statement is visible to the IAM role that ran it, whichever session asks, unless a
    `redshift-data:statement-owner-iam-userid` condition narrows it ("Actions, resources, and
    condition keys for Amazon Redshift Data API", condition keys,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html;
    "Authorizing access to the Amazon Redshift Data API",
    https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html)."""
    endpoint = _endpoint(
        make_endpoint, {"StringLike": {"redshift-data:statement-owner-iam-userid": "AROASTATEMENT:*"}}
    )
    fn_a, fn_b = make_client(endpoint.url, "fn-a", "secret"), make_client(endpoint.url, "fn-b", "secret")
    statement_id = _run(fn_a)
    assert fn_b.describe_statement(Id=statement_id)["Status"] == "FINISHED"
    assert fn_b.get_statement_result(Id=statement_id)["Records"] == [[{"longValue": 1}]]
    assert statement_id in [s["Id"] for s in fn_b.list_statements()["Statements"]]
    # RoleLevel=false lists only the statements of the caller's own session (API reference,
    # ListStatements, https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ListStatements.html).
    assert statement_id not in [s["Id"] for s in fn_b.list_statements(RoleLevel=False)["Statements"]]
    assert statement_id in [s["Id"] for s in fn_a.list_statements(RoleLevel=False)["Statements"]]
    for outsider in (make_client(endpoint.url, "other", "secret"), make_client(endpoint.url)):
        with pytest.raises(ClientError) as hidden:
            outsider.describe_statement(Id=statement_id)
        assert hidden.value.response["Error"]["Code"] in (
            "ResourceNotFoundException",
            "AccessDeniedException",
        )
        assert statement_id not in [s["Id"] for s in outsider.list_statements()["Statements"]]


def test_a_condition_on_the_own_session_keeps_other_sessions_of_the_role_out(
    make_endpoint: Callable[..., LocalRedshiftData], make_client: Callable[..., Any]
) -> None:
    """`statement-owner-iam-userid = ${aws:userid}` compares `<RoleId>:<session>`: another
    function of the same role is denied with AccessDeniedException."""
    endpoint = _endpoint(
        make_endpoint, {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
    )
    fn_a, fn_b = make_client(endpoint.url, "fn-a", "secret"), make_client(endpoint.url, "fn-b", "secret")
    statement_id = _run(fn_a)
    assert fn_a.describe_statement(Id=statement_id)["Status"] == "FINISHED"
    with pytest.raises(ClientError) as denied:
        fn_b.describe_statement(Id=statement_id)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "redshift-data:DescribeStatement" in denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as cancel:
        fn_b.cancel_statement(Id=statement_id)
    assert cancel.value.response["Error"]["Code"] == "AccessDeniedException"
