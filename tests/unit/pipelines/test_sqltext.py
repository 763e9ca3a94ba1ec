"""The one place a run value enters SQL text (the COPY source), quoting and parameter scanning."""

from __future__ import annotations

import pytest
from etl_common import UnsafeValueError, quote_literal, referenced_parameters, s3_copy_source
from etl_common.sqltext import render_statement


def test_copy_source_is_a_quoted_s3_uri() -> None:
    assert s3_copy_source("landing-1", "sales/2024/01/02/a.csv") == "'s3://landing-1/sales/2024/01/02/a.csv'"


def test_single_quotes_are_doubled() -> None:
    assert s3_copy_source("landing-1", "sales/o'brien.csv") == "'s3://landing-1/sales/o''brien.csv'"
    assert quote_literal("it's") == "'it''s'"


@pytest.mark.parametrize(
    ("bucket", "message"),
    [
        ("ab", "must be 3-63 characters"),
        ("Landing", "must be 3-63 characters"),
        ("landing_bucket", "must be 3-63 characters"),
        ("-landing", "must be 3-63 characters"),
        ("land..ing", "two adjacent periods"),
        ("192.168.5.4", "IP address"),
        ("xn--landing", "reserved"),
        ("landing-s3alias", "reserved"),
        ("a" * 64, "must be 3-63 characters"),
        ("landing' IAM_ROLE 'x", "must be 3-63 characters"),
    ],
)
def test_bad_bucket_names_are_refused(bucket: str, message: str) -> None:
    with pytest.raises(UnsafeValueError, match=message):
        s3_copy_source(bucket, "sales/a.csv")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("sales/../secret/a.csv", "'.' or '..' path segment"),
        ("sales/./a.csv", "'.' or '..' path segment"),
        ("../a.csv", "'.' or '..' path segment"),
        ("/sales/a.csv", "starts with '/'"),
        ("sales//a.csv", "empty path segment"),
        ("sales/a.csv\n", "control character"),
        ("sales/\x00a.csv", "control character"),
        ("sales/a.csv\\", "backslash"),
        ("s" * 1025, "longer than 1024 bytes"),
    ],
)
def test_bad_object_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(UnsafeValueError, match=message):
        s3_copy_source("landing-1", key)


def test_copy_statement_rendering_with_role_and_gzip() -> None:
    statement = {"copy": {"table": "t_batch", "options": "FORMAT AS CSV IGNOREHEADER 1"}}
    values = {"bucket": "landing-1", "object_key": "sales/a.csv.gz"}
    sql = render_statement(statement, values, "arn:aws:iam::123456789012:role/copy")
    assert sql == (
        "COPY t_batch FROM 's3://landing-1/sales/a.csv.gz' "
        "IAM_ROLE 'arn:aws:iam::123456789012:role/copy' FORMAT AS CSV IGNOREHEADER 1 GZIP"
    )
    plain = render_statement({"copy": {"table": "t", "gzip": False}}, values, "")
    assert plain == "COPY t FROM 's3://landing-1/sales/a.csv.gz' IAM_ROLE default"


def test_call_and_refresh_use_parameters_not_values() -> None:
    call = {"call": {"procedure": "sales.sp_x", "args": ["bucket", "etag"]}}
    assert (
        render_statement(call, {"bucket": "evil'); DROP TABLE x; --"}, "")
        == "CALL sales.sp_x(:bucket, :etag)"
    )
    assert render_statement({"refresh": "reporting.mv"}, {}, "") == "REFRESH MATERIALIZED VIEW reporting.mv"


def test_referenced_parameters_skip_casts_literals_and_comments() -> None:
    sql = """
        SELECT :a::date, ':not_me', "col:umn" -- :comment
        FROM t /* :block */ WHERE x = :b AND y = :a AND z = 'it''s :quoted'
    """
    assert referenced_parameters(sql) == ["a", "b"]
