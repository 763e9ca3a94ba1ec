"""The runtime's database users: sql/ applied by the admin, functions' roles mapped by their tags.

Serverless grants the roles an IAM role's `RedshiftDbRoles` tag names to its database user
`IAMR:<role name>` at login ("Defining database roles to grant to federated users in Amazon
Redshift Serverless", https://docs.aws.amazon.com/redshift/latest/mgmt/redshift-iam-access-federated-db-roles.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rsetl.awsproto import RequestContext
from rsetl.redshift_data import DatabaseLogin

if TYPE_CHECKING:
    from tests.e2e.conftest import E2E


def test_sql_is_applied_by_the_admin_who_owns_the_views_and_their_refresh_procedures(e2e: E2E) -> None:
    owners = e2e.rows(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname IN"
        " ('mv_daily_store_sales', 'mv_category_sales', 'load_ledger')"
        " UNION SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname LIKE 'sp_refresh_mv_%%'"
    )
    assert owners == [("awsuser",)]
    assert e2e.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = 'awsuser'") is True


def test_the_function_roles_log_in_with_the_database_roles_their_tags_name(e2e: E2E) -> None:
    redshift_data = e2e.runtime.redshift_data
    assert redshift_data is not None, "a started runtime serves the Data API"
    template, auth = e2e.runtime.template, redshift_data.auth
    request = {"WorkgroupName": template.parameters["WorkgroupName"], "Database": "dev"}
    expected = {"StatementRole": ("rsetl_pipeline",), "QuarantineRole": ("rsetl_quarantine",)}
    for logical_id, db_roles in expected.items():
        role = template.resources[logical_id].ref
        context = RequestContext("request", f"AROA:{role}", template.account_id, template.region, role)
        assert auth.login_for(request, context) == DatabaseLogin(f"IAMR:{role}", db_roles)
