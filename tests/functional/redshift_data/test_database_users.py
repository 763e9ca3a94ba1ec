"""Statements run as the database user the Data API maps the caller to, with that user's privileges.

AWS documents the mapping in "Authorizing access to the Amazon Redshift Data API"
(https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html): DbUser with temporary
credentials, `IAMR:<role>` / `IAM:<user>` for the IAM identity, or the secret's user. Serverless
grants the database roles an IAM role's `RedshiftDbRoles` tag names at login ("Defining database
roles to grant to federated users in Amazon Redshift Serverless",
https://docs.aws.amazon.com/redshift/latest/mgmt/redshift-iam-access-federated-db-roles.html).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from rsetl.awsproto import RequestContext
from rsetl.objectstore import MemoryObjectStore
from rsetl.postgres import PostgresServer
from rsetl.redshift_data import DatabaseAuth, DatabaseLogin, RedshiftDataService, ValidationException
from rsetl.redshift_sql import RedshiftSqlRunner
from rsetl.runtime.sql_apply import apply_sql_folder

REPO = Path(__file__).resolve().parents[3]
# The SQL the functions send comes from the etl_common layer, as they build it.
sys.path.insert(0, str(REPO / "layers" / "etl_common" / "python"))
PIPELINE_ROLE = "rsetl-StatementRole"
QUARANTINE_ROLE = "rsetl-QuarantineRole"
UNTAGGED_ROLE = "rsetl-UntaggedRole"
AUTH = DatabaseAuth(
    secrets={"arn:aws:secretsmanager:us-east-1:123456789012:secret:etl-AbCdEf": "etl_secret_user"},
    role_tags={
        PIPELINE_ROLE: {"RedshiftDbRoles": "rsetl_pipeline:no_such_role"},
        QUARANTINE_ROLE: {"RedshiftDbRoles": "rsetl_quarantine"},
    },
)


def _context(role_name: str | None) -> RequestContext:
    principal = f"AROA{(role_name or 'admin').upper()}:session" if role_name else "test"
    return RequestContext("request", principal, "123456789012", "us-east-1", role_name)


class Database:
    """A fresh database with the project's sql/ applied by the admin user, and a Data API over it."""

    def __init__(self, service: RedshiftDataService, name: str) -> None:
        self.service = service
        self.name = name

    def run(self, sql: str, role_name: str | None = PIPELINE_ROLE, **target: Any) -> dict[str, Any]:
        """Run `sql` through ExecuteStatement as the IAM role `role_name`; the DescribeStatement."""
        params = {"Sql": sql, "Database": self.name, "WaitTimeSeconds": 30, **target}
        params.setdefault("WorkgroupName", "default-workgroup")
        context = _context(role_name)
        submitted = self.service.execute_statement(params, context)
        return self.service.describe_statement({"Id": submitted["Id"], "WaitTimeSeconds": 30}, context)

    def scalar(self, sql: str, role_name: str | None = PIPELINE_ROLE, **target: Any) -> Any:
        described = self.run(sql, role_name, **target)
        assert described["Status"] == "FINISHED", described["Error"]
        result = self.service.get_statement_result({"Id": described["Id"]}, _context(role_name))
        return next(iter(result["Records"][0][0].values()))


@pytest.fixture
def database(postgres: PostgresServer) -> Iterator[Database]:
    name = f"u_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    runner = RedshiftSqlRunner(MemoryObjectStore())
    service = RedshiftDataService(postgres.conninfo, runner, auth=AUTH)
    users = service.users
    try:
        with psycopg.connect(users.conninfo(name, users.admin()), autocommit=True) as conn:
            apply_sql_folder(conn, REPO / "sql", runner)
        yield Database(service, name)
    finally:
        service.close()
        with psycopg.connect(postgres.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _spec_sql(spec: str) -> list[str]:
    """The SQL the RunPipeline steps send for every statement of a pipeline spec."""
    from etl_common.sqltext import render_statement

    document = yaml.safe_load((REPO / "pipelines" / "specs" / f"{spec}.yaml").read_text())
    steps = [branch for step in document["steps"] for branch in step.get("parallel", [step])]
    return [render_statement(statement, {}, "") for step in steps for statement in step["statements"]]


def test_a_plain_refresh_as_the_pipeline_user_fails_and_the_spec_refresh_runs(database: Database) -> None:
    """Only the owner of a materialized view can REFRESH it (REFRESH MATERIALIZED VIEW, usage notes:
    https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-refresh-sql-command.html).

    The views belong to the admin who applied sql/; the pipeline runs as IAMR:<StatementRole>. The
    old spec (`refresh: reporting.mv_...`) sent REFRESH MATERIALIZED VIEW and fails as that user;
    the spec now calls the views' SECURITY DEFINER procedures, which run as the owner.
    """
    old = database.run("REFRESH MATERIALIZED VIEW reporting.mv_daily_store_sales")
    assert old["Status"] == "FAILED"
    assert "permission denied for materialized view mv_daily_store_sales" in old["Error"]
    statements = _spec_sql("refresh_sales_views")
    assert statements == [
        "CALL reporting.sp_refresh_mv_daily_store_sales()",
        "CALL reporting.sp_refresh_mv_category_sales()",
    ]
    for sql in statements:
        described = database.run(sql)
        assert described["Status"] == "FINISHED", described["Error"]


def test_a_new_procedure_is_callable_by_its_owner_and_superusers_only(database: Database) -> None:
    """EXECUTE on a new procedure belongs to its owner and superusers ("Security and privileges for
    stored procedures", https://docs.aws.amazon.com/redshift/latest/dg/stored-procedure-security-and-privileges.html);
    functions stay callable by PUBLIC. An IAM role without the RedshiftDbRoles tag calls neither
    refresh procedure."""
    refresh = database.run("CALL reporting.sp_refresh_mv_daily_store_sales()", UNTAGGED_ROLE)
    assert refresh["Status"] == "FAILED"
    assert "permission denied" in refresh["Error"]
    created = database.run(
        "CREATE OR REPLACE PROCEDURE public.sp_probe() AS $$ BEGIN RAISE INFO 'probe'; END; $$"
        " LANGUAGE plpgsql",
        None,
    )
    assert created["Status"] == "FINISHED", created["Error"]
    denied = database.run("CALL public.sp_probe()", UNTAGGED_ROLE)
    assert "permission denied for procedure sp_probe" in denied["Error"]
    assert database.run("CALL public.sp_probe()", None)["Status"] == "FINISHED"
    granted = database.run(f'GRANT EXECUTE ON PROCEDURE public.sp_probe() TO "IAMR:{UNTAGGED_ROLE}"', None)
    assert granted["Status"] == "FINISHED", granted["Error"]
    assert database.run("CALL public.sp_probe()", UNTAGGED_ROLE)["Status"] == "FINISHED"
    assert database.scalar("SELECT LEN('four')", UNTAGGED_ROLE) == 4


def test_only_the_owner_refreshes_a_view_whatever_is_granted(database: Database) -> None:
    """GRANT ALL gives no REFRESH: Redshift lets the owner alone refresh (PostgreSQL 17+'s MAINTAIN
    privilege, part of ALL, would let a grantee refresh)."""
    for sql in (
        "GRANT USAGE ON SCHEMA reporting TO PUBLIC",
        "GRANT ALL ON reporting.mv_category_sales TO PUBLIC",
    ):
        assert database.run(sql, None)["Status"] == "FINISHED"
    refresh = database.run("REFRESH MATERIALIZED VIEW reporting.mv_category_sales", UNTAGGED_ROLE)
    assert refresh["Status"] == "FAILED"
    assert "permission denied for materialized view mv_category_sales" in refresh["Error"]


def test_the_pipeline_user_is_created_with_the_tagged_roles_that_exist(database: Database) -> None:
    assert database.scalar("SELECT current_user") == f"IAMR:{PIPELINE_ROLE}"
    roles = database.scalar(
        "SELECT LISTAGG(r.rolname, ',') WITHIN GROUP (ORDER BY r.rolname) FROM pg_auth_members m"
        " JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
        f" WHERE u.rolname = 'IAMR:{PIPELINE_ROLE}'",
        None,
    )
    assert roles == "rsetl_pipeline"
    assert database.scalar("SELECT COUNT(*) FROM etl.load_ledger") == 0


def test_a_new_user_has_only_public_privileges(database: Database) -> None:
    """A user created at first login gets PUBLIC's privileges only (GetClusterCredentials, DbUser:
    https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html),
    including Redshift's CREATE on schema public."""
    denied = database.run("SELECT COUNT(*) FROM etl.load_ledger", UNTAGGED_ROLE)
    assert denied["Status"] == "FAILED"
    assert "permission denied for schema etl" in denied["Error"]
    created = database.run("CREATE TABLE public.scratch_untagged (id INTEGER)", UNTAGGED_ROLE)
    assert created["Status"] == "FINISHED", created["Error"]
    temp = database.run("CREATE TEMP TABLE scratch (LIKE staging.sales_lines)", UNTAGGED_ROLE)
    assert temp["Status"] == "FAILED"
    assert "permission denied for schema staging" in temp["Error"]


@pytest.mark.parametrize(
    "sql",
    [
        "SET ROLE awsuser",
        "SET SESSION AUTHORIZATION awsuser",
        "RESET ROLE; SELECT COUNT(*) FROM sales.fact_sales WHERE current_user = 'awsuser'",
    ],
)
def test_user_sql_cannot_become_the_admin(database: Database, sql: str) -> None:
    """The connection logs in as the user itself: no SET or RESET reaches the admin's privileges."""
    described = database.run(sql, UNTAGGED_ROLE)
    assert described["Status"] == "FAILED"
    assert "permission denied" in described["Error"]


def test_the_admin_the_db_user_and_the_secret_user(database: Database) -> None:
    assert database.scalar("SELECT current_user", None) == "awsuser"
    assert database.scalar("SELECT usesuper FROM pg_user WHERE usename = current_user", None) is True
    cluster = {"ClusterIdentifier": "etl-cluster", "DbUser": "etl_db_user", "WorkgroupName": None}
    assert database.scalar("SELECT current_user", PIPELINE_ROLE, **cluster) == "etl_db_user"
    secret = {"SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:etl-AbCdEf"}
    assert database.scalar("SELECT current_user", PIPELINE_ROLE, **secret) == "etl_secret_user"
    denied = database.run("SELECT COUNT(*) FROM sales.fact_sales", PIPELINE_ROLE, **cluster)
    assert "permission denied for schema sales" in denied["Error"]


def test_the_quarantine_user_records_a_failed_load_and_nothing_else(database: Database) -> None:
    from etl_common.quarantine import RECORD_FAILED_LOAD_SQL

    params = {
        "Parameters": [
            {"name": name, "value": value}
            for name, value in {
                "bucket": "landing",
                "object_key": "sales/2026/11/06/bad.csv",
                "etag": '"abc"',
                "pipeline": "ingest_sales",
                "execution_name": "run-1",
                "error_message": "ERROR: Load into table failed",
            }.items()
        ]
    }
    recorded = database.run(RECORD_FAILED_LOAD_SQL, QUARANTINE_ROLE, **params)
    assert recorded["Status"] == "FINISHED", recorded["Error"]
    assert database.scalar("SELECT COUNT(*) FROM etl.load_ledger WHERE status = 'FAILED'", None) == 1
    merge = database.run("SELECT COUNT(*) FROM sales.fact_sales", QUARANTINE_ROLE)
    assert merge["Status"] == "FAILED"


def test_the_mapping_refuses_an_unknown_secret_and_a_serverless_db_user() -> None:
    context = _context(PIPELINE_ROLE)
    with pytest.raises(ValidationException, match="can't find the specified secret"):
        AUTH.login_for({"WorkgroupName": "wg", "SecretArn": "arn:aws:secretsmanager:x"}, context)
    with pytest.raises(ValidationException, match="provisioned clusters only"):
        AUTH.login_for({"WorkgroupName": "wg", "DbUser": "etl"}, context)
    # A provisioned cluster with the IAM identity maps the role too, without Serverless's role tags.
    assert AUTH.login_for({"ClusterIdentifier": "c"}, context) == DatabaseLogin(f"IAMR:{PIPELINE_ROLE}")
    assert AUTH.login_for({"WorkgroupName": "wg"}, context) == DatabaseLogin(
        f"IAMR:{PIPELINE_ROLE}", ("rsetl_pipeline", "no_such_role")
    )
    assert AUTH.login_for({"WorkgroupName": "wg"}, _context(None)) == DatabaseLogin("awsuser")


def test_a_session_keeps_the_user_it_was_opened_as(database: Database) -> None:
    context = _context(UNTAGGED_ROLE)
    opened = database.service.execute_statement(
        {
            "Sql": "CREATE TEMP TABLE mine (id INTEGER)",
            "Database": database.name,
            "WorkgroupName": "default-workgroup",
            "SessionKeepAliveSeconds": 60,
            "WaitTimeSeconds": 30,
        },
        context,
    )
    following = database.service.execute_statement(
        {
            "Sql": "SELECT current_user FROM mine RIGHT JOIN (SELECT 1) one ON TRUE",
            "SessionId": opened["SessionId"],
        },
        context,
    )
    described = database.service.describe_statement({"Id": following["Id"], "WaitTimeSeconds": 30}, context)
    assert described["Status"] == "FINISHED", described["Error"]
    result = database.service.get_statement_result({"Id": following["Id"]}, context)
    assert result["Records"] == [[{"stringValue": f"IAMR:{UNTAGGED_ROLE}"}]]
