"""Which Redshift database the Data API calls go to, read from the function's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RedshiftTarget:
    """A provisioned cluster (with a database user or a secret) or a Serverless workgroup."""

    database: str
    cluster_identifier: str = ""
    workgroup_name: str = ""
    db_user: str = ""
    secret_arn: str = ""

    def __post_init__(self) -> None:
        if not self.database:
            raise ValueError("Redshift target: REDSHIFT_DATABASE is empty")
        if bool(self.cluster_identifier) == bool(self.workgroup_name):
            raise ValueError(
                "Redshift target: set exactly one of REDSHIFT_CLUSTER_IDENTIFIER and REDSHIFT_WORKGROUP_NAME"
            )
        if self.cluster_identifier and not (self.db_user or self.secret_arn):
            raise ValueError(
                "Redshift target: a provisioned cluster needs REDSHIFT_DB_USER or REDSHIFT_SECRET_ARN"
            )
        if self.db_user and self.secret_arn:
            raise ValueError("Redshift target: set REDSHIFT_DB_USER or REDSHIFT_SECRET_ARN, not both")
        if self.workgroup_name and self.db_user:
            raise ValueError("Redshift target: REDSHIFT_DB_USER applies to provisioned clusters only")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedshiftTarget:
        """Read ``REDSHIFT_*`` variables; empty values count as unset."""
        env = os.environ if env is None else env
        return cls(
            database=env.get("REDSHIFT_DATABASE", ""),
            cluster_identifier=env.get("REDSHIFT_CLUSTER_IDENTIFIER", ""),
            workgroup_name=env.get("REDSHIFT_WORKGROUP_NAME", ""),
            db_user=env.get("REDSHIFT_DB_USER", ""),
            secret_arn=env.get("REDSHIFT_SECRET_ARN", ""),
        )

    def request_args(self) -> dict[str, str]:
        """Connection arguments of ExecuteStatement / BatchExecuteStatement."""
        args = {"Database": self.database}
        if self.cluster_identifier:
            args["ClusterIdentifier"] = self.cluster_identifier
        if self.workgroup_name:
            args["WorkgroupName"] = self.workgroup_name
        if self.db_user:
            args["DbUser"] = self.db_user
        if self.secret_arn:
            args["SecretArn"] = self.secret_arn
        return args
