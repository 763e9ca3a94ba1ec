"""Who calls the local endpoint: the administrator, and the template's role sessions with their keys.

A Lambda function's calls are signed with its execution role's session credentials, the
role session name being the function's name ("Lambda execution role", AWS Lambda Developer
Guide, https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html), so its
`aws:userid` is `<RoleId>:<FunctionName>` ("AWS global condition context keys", aws:userid,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-userid).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rsetl.iam.conditions import ContextValue
from rsetl.iam.policy import PolicyDocument, Principal, evaluate

ADMINISTRATOR_ACCESS = PolicyDocument.parse(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "AdministratorAccess",
)
"""What the local administrator (`test` / `test`) holds: the AdministratorAccess managed policy."""


@dataclass(frozen=True)
class Caller:
    """A signed caller: the administrator or one session of a role."""

    access_key: str
    secret_key: str
    userid: str
    """`aws:userid`: `<RoleId>:<session>` for a role session, the access key for the administrator."""
    arn: str
    """The caller's ARN as AWS errors name it: `arn:aws:sts::<acct>:assumed-role/<role>/<session>`."""
    account_id: str
    role_name: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    policies: tuple[PolicyDocument, ...] = ()

    @property
    def principal(self) -> Principal:
        arns = (self.arn,) + ((self.role_arn,) if self.role_arn else ())
        return Principal(arns=arns, account=self.account_id)

    def request_keys(self, now: datetime | None = None) -> dict[str, ContextValue]:
        """The global condition keys AWS puts in every request context of this caller."""
        moment = now or datetime.now(UTC)
        keys: dict[str, ContextValue] = {
            "aws:userid": self.userid,
            "aws:PrincipalArn": self.role_arn or self.arn,
            "aws:PrincipalAccount": self.account_id,
            "aws:PrincipalType": "AssumedRole" if self.role_arn else "User",
            "aws:CurrentTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(moment.timestamp())),
        }
        if self.role_arn is None:
            keys["aws:username"] = self.arn.rpartition("/")[2]
        return keys


@dataclass(frozen=True)
class Role:
    """An IAM role of the template: its identity, trust policy and identity-based policies."""

    logical_id: str
    name: str
    arn: str
    role_id: str
    trust_policy: PolicyDocument
    policies: tuple[PolicyDocument, ...]


@dataclass(frozen=True)
class ServiceCaller:
    """An AWS service acting for a resource (EventBridge for a rule): only resource policies grant it."""

    service: str
    """Its service principal, e.g. `events.amazonaws.com`."""
    source_arn: str
    account_id: str

    @property
    def principal(self) -> Principal:
        return Principal(service=self.service)

    def request_keys(self) -> dict[str, ContextValue]:
        return {"aws:SourceArn": self.source_arn, "aws:SourceAccount": self.account_id}


def session_credentials(role_arn: str, session_name: str) -> tuple[str, str]:
    """Deterministic temporary keys of one role session: `ASIA...` access key and its secret."""
    digest = hashlib.sha256(f"{role_arn}/{session_name}".encode()).digest()
    access_key = "ASIA" + base64.b32encode(digest).decode()[:16]
    secret = hashlib.sha256(b"secret:" + digest).hexdigest()[:40]
    return access_key, secret


@dataclass
class Callers:
    """Every caller the local endpoint knows, by access key."""

    account_id: str
    roles: dict[str, Role] = field(default_factory=dict)
    """By role ARN."""
    _by_key: dict[str, Caller] = field(default_factory=dict)

    def add_administrator(self, access_key: str, secret_key: str) -> Caller:
        arn = f"arn:aws:iam::{self.account_id}:user/{access_key}"
        caller = Caller(
            access_key, secret_key, userid=access_key, arn=arn, account_id=self.account_id,
            policies=(ADMINISTRATOR_ACCESS,),
        )  # fmt: skip
        self._by_key[access_key] = caller
        return caller

    def session(self, role_arn: str, session_name: str) -> Caller:
        """The caller of one session of a template role (created on first use, keys deterministic)."""
        role = self.roles.get(role_arn)
        if role is None:
            raise KeyError(f"{role_arn} is not a role of the template")
        access_key, secret = session_credentials(role_arn, session_name)
        caller = self._by_key.get(access_key)
        if caller is None:
            caller = Caller(
                access_key, secret, userid=f"{role.role_id}:{session_name}",
                arn=f"arn:aws:sts::{self.account_id}:assumed-role/{role.name}/{session_name}",
                account_id=self.account_id, role_name=role.name, role_arn=role.arn,
                session_name=session_name, policies=role.policies,
            )  # fmt: skip
            self._by_key[access_key] = caller
        return caller

    def by_access_key(self, access_key: str) -> Caller | None:
        return self._by_key.get(access_key)

    def secrets(self) -> Mapping[str, str]:
        """Access key -> secret of every caller, for the SigV4 verifier: a live view, so sessions
        made later (a state machine's, a rule's) sign too."""
        return _Secrets(self._by_key)

    def may_assume(self, role_arn: str, service: ServiceCaller) -> bool:
        """Whether the role's trust policy lets `service` assume it (sts:AssumeRole)."""
        role = self.roles.get(role_arn)
        if role is None:
            return False
        return evaluate(
            "sts:AssumeRole", role_arn, service.request_keys(),
            resource_policy=role.trust_policy, principal=service.principal,
        ).allowed  # fmt: skip


class _Secrets(Mapping[str, str]):
    def __init__(self, callers: Mapping[str, Caller]) -> None:
        self._callers = callers

    def __getitem__(self, access_key: str) -> str:
        return self._callers[access_key].secret_key

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._callers))

    def __len__(self) -> int:
        return len(self._callers)
