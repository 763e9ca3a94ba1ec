"""The pipelines run as the secret's database user, with only the grants sql/ and the deployer give.

With `SecretArn` the Data API runs SQL as the secret's user ("Authorizing access to the Amazon
Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html); only a
materialized view's owner can refresh it ("REFRESH MATERIALIZED VIEW", usage notes,
https://docs.aws.amazon.com/redshift/latest/dg/materialized-view-refresh-sql-command.html).
"""

from __future__ import annotations

from reliability_support import SECRET_USER, executions_for, ledger, sales_csv, settle, upload

from rsetl.runtime import LocalRuntime


def test_ingest_refresh_and_quarantine_run_as_the_secret_user(runtime: LocalRuntime) -> None:
    assert runtime.redshift_data is not None
    started = runtime.clock.now()
    before = {statement.id for statement in runtime.redshift_data.statements()}
    good, bad = "sales/2026/11/06/db-user-good.csv", "sales/2026/11/06/db-user-bad.csv"
    upload(runtime, good, sales_csv("db-user-good", 5))
    upload(runtime, bad, sales_csv("db-user-bad", 5, bad_rows=1))
    settle(runtime)
    assert [run.status for run in executions_for(runtime, good)] == ["SUCCEEDED"]
    assert ledger(runtime, good) == [("LOADED", 5)]
    assert [status for status, _ in ledger(runtime, bad)] == ["FAILED"]
    refreshes = [
        run
        for run in runtime.stepfunctions.executions.values()
        if isinstance(run.input, dict)
        and run.input.get("pipeline") == "refresh_sales_views"
        and run.start_date is not None
        and run.start_date >= started
    ]
    assert refreshes and {run.status for run in refreshes} == {"SUCCEEDED"}
    since = [s for s in runtime.redshift_data.statements() if s.id not in before]
    assert {s.login.user for s in since} == {SECRET_USER}
    calls = [sub.sql for s in since for sub in s.subs if "sp_refresh_mv_" in sub.sql]
    assert sorted(set(calls)) == [
        "CALL reporting.sp_refresh_mv_category_sales()",
        "CALL reporting.sp_refresh_mv_daily_store_sales()",
    ]
