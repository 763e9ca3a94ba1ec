"""The IAM policy evaluator against the IAM User Guide's rules and examples."""

from __future__ import annotations

import pytest

from rsetl.iam import Decision, PolicyDocument, PolicyError, Principal, evaluate
from rsetl.iam.conditions import RequestKeys


def _policy(*statements: dict[str, object], version: str = "2012-10-17") -> PolicyDocument:
    return PolicyDocument.parse({"Version": version, "Statement": list(statements)}, "test")


def test_an_explicit_deny_overrides_an_allow_and_nothing_allowed_is_an_implicit_deny() -> None:
    """ "Policy evaluation logic": an explicit deny overrides an allow; by default every request is
    implicitly denied (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html)."""
    allow = _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    deny = _policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"})
    both = [allow, deny]
    assert evaluate("s3:GetObject", "arn:aws:s3:::b/k", {}, identity_policies=both).allowed
    denied = evaluate("s3:DeleteObject", "arn:aws:s3:::b/k", {}, identity_policies=both)
    assert (denied.decision, denied.denied_by) == (Decision.EXPLICIT_DENY, "identity-based policy")
    assert evaluate("sqs:SendMessage", "*", {}, identity_policies=[deny]).decision is Decision.IMPLICIT_DENY


def test_either_the_identity_or_the_resource_policy_of_the_same_account_may_allow() -> None:
    """ "Policy evaluation for requests within a single account": if either the identity-based or
    the resource-based policy allows, the request is allowed; an explicit deny in either denies
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html)."""
    role = Principal(arns=("arn:aws:iam::111122223333:role/r",), account="111122223333")
    bucket = PolicyDocument.parse(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/r"},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]},
        "bucket", resource_based=True,
    )  # fmt: skip
    https = {"aws:SecureTransport": True}
    assert evaluate("s3:GetObject", "arn:aws:s3:::b/k", https, resource_policy=bucket, principal=role).allowed
    other = Principal(arns=("arn:aws:iam::111122223333:role/other",), account="111122223333")
    assert not evaluate(
        "s3:GetObject", "arn:aws:s3:::b/k", https, resource_policy=bucket, principal=other
    ).allowed
    plain = evaluate(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        {"aws:SecureTransport": False},
        resource_policy=bucket,
        principal=role,
    )
    assert plain.denied_by == "resource-based policy"


def test_action_and_resource_wildcards_and_the_not_elements() -> None:
    """ "IAM JSON policy elements: Action / NotAction / Resource / NotResource": `*` and `?`
    wildcards, actions case-insensitive, ARNs case-sensitive
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html)."""
    policy = _policy(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::ok-?", "arn:aws:s3:::ok-?/*"]},
    )
    assert evaluate("S3:getobject", "arn:aws:s3:::ok-1/key", {}, identity_policies=[policy]).allowed
    assert not evaluate("s3:GetObject", "arn:aws:s3:::ok-12/key", {}, identity_policies=[policy]).allowed
    assert not evaluate("s3:GetObject", "arn:aws:s3:::OK-1/key", {}, identity_policies=[policy]).allowed
    assert not evaluate("iam:CreateUser", "*", {}, identity_policies=[policy]).allowed


def test_an_absent_key_fails_a_condition_unless_it_is_negated_if_exists_or_null() -> None:
    """ "Condition operators": a key not in the request context makes the condition false; true for
    a negated operator, for `...IfExists` and for `Null: true`
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""

    def allowed(condition: dict[str, object], keys: RequestKeys) -> bool:
        policy = _policy(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": condition}
        )
        return evaluate("s3:ListBucket", "arn:aws:s3:::b", keys, identity_policies=[policy]).allowed

    assert not allowed({"StringLike": {"s3:prefix": "home/*"}}, {})
    assert allowed({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/a"})
    assert allowed({"StringNotLike": {"s3:prefix": "home/*"}}, {})
    assert allowed({"StringLikeIfExists": {"s3:prefix": "home/*"}}, {})
    assert not allowed({"StringLikeIfExists": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/"})
    assert allowed({"Null": {"s3:prefix": "true"}}, {})
    assert not allowed({"Null": {"s3:prefix": "false"}}, {})
    assert allowed({"StringEquals": {"S3:Prefix": ["a", "b"]}}, {"s3:prefix": "b"})
    assert allowed({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:111122223333:rule/*"}},
                   {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/r"})  # fmt: skip
    assert not allowed({"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/r"}},
                       {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/other"})  # fmt: skip
    assert allowed({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True})
    assert allowed({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"})
    assert allowed({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
                   {"aws:CurrentTime": "2026-11-06T22:00:00Z"})  # fmt: skip
    assert allowed({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]})
    assert not allowed({"ForAnyValue:StringEquals": {"aws:TagKeys": ["c"]}}, {"aws:TagKeys": ["a", "b"]})


def test_policy_variables_fill_resources_and_condition_values() -> None:
    """ "IAM policy elements: Variables and tags": `${aws:username}` in a Resource, a default with
    `${key, 'default'}`, `${*}` for a literal asterisk, and no variables in a Version 2008-10-17
    policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)."""
    home = _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/home/${aws:username}/*"})
    keys = {"aws:username": "carlos"}
    assert evaluate("s3:PutObject", "arn:aws:s3:::b/home/carlos/x", keys, identity_policies=[home]).allowed
    assert not evaluate("s3:PutObject", "arn:aws:s3:::b/home/maria/x", keys, identity_policies=[home]).allowed
    assert not evaluate("s3:PutObject", "arn:aws:s3:::b/home//x", {}, identity_policies=[home]).allowed
    owner = _policy({
        "Effect": "Allow", "Action": "redshift-data:DescribeStatement", "Resource": "*",
        "Condition": {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
    })  # fmt: skip
    same = {"aws:userid": "AROAX:fn-a", "redshift-data:statement-owner-iam-userid": "AROAX:fn-a"}
    other = {"aws:userid": "AROAX:fn-b", "redshift-data:statement-owner-iam-userid": "AROAX:fn-a"}
    assert evaluate("redshift-data:DescribeStatement", "*", same, identity_policies=[owner]).allowed
    assert not evaluate("redshift-data:DescribeStatement", "*", other, identity_policies=[owner]).allowed
    default = _policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/${aws:username, 'shared'}/*",
        }
    )
    assert evaluate("s3:GetObject", "arn:aws:s3:::b/shared/x", {}, identity_policies=[default]).allowed
    star = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${*}"})
    assert evaluate("s3:GetObject", "arn:aws:s3:::b/*", {}, identity_policies=[star]).allowed
    assert not evaluate("s3:GetObject", "arn:aws:s3:::b/x", {}, identity_policies=[star]).allowed
    old = _policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}"},
        version="2008-10-17",
    )
    assert not evaluate("s3:GetObject", "arn:aws:s3:::b/carlos", keys, identity_policies=[old]).allowed
    assert evaluate("s3:GetObject", "arn:aws:s3:::b/${aws:username}", keys, identity_policies=[old]).allowed


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:*", "Resource": "*"}]},
         "Effect"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]},
         "Action and NotAction"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]},
         "Resource or NotResource"),
        ({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringMaybe": {"k": "v"}}}
        ]}, "unknown condition operator"),
        ({"Version": "2019-01-01", "Statement": []}, "Version"),
    ],
)  # fmt: skip
def test_a_malformed_policy_is_refused_saying_what_and_where(document: dict[str, object], error: str) -> None:
    with pytest.raises(PolicyError, match=error) as raised:
        PolicyDocument.parse(document, "Role.Policies.p")
    assert str(raised.value).startswith("Role.Policies.p")
