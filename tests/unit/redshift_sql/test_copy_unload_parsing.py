"""Parsing of COPY and UNLOAD options (no database)."""

from __future__ import annotations

import pytest

from rsetl.redshift_sql import UnsupportedSqlError, translate


def test_copy_options() -> None:
    copy = translate(
        "COPY staging.t (a, \"B\") FROM 's3://bucket/key/prefix' IAM_ROLE DEFAULT"
        " FORMAT AS CSV QUOTE AS '''' DELIMITER AS ';' IGNOREHEADER AS 2 NULL AS 'NA'"
        " EMPTYASNULL GZIP MANIFEST EXPLICIT_IDS"
    ).copy
    assert copy is not None
    assert (copy.table, copy.columns) == ("staging.t", ["a", "b"])
    assert (copy.source.bucket, copy.source.key) == ("bucket", "key/prefix")
    assert (copy.format, copy.quote, copy.delimiter, copy.ignore_header, copy.null_as) == (
        "csv",
        "'",
        ";",
        2,
        "NA",
    )
    assert copy.empty_as_null and copy.manifest and copy.explicit_ids and copy.compression == "gzip"
    assert copy.ignored == ["IAM_ROLE"]


def test_copy_json_option() -> None:
    copy = translate(
        "COPY t FROM 's3://b/k' JSON AS 'auto ignorecase' CREDENTIALS 'aws_access_key_id=x'"
    ).copy
    assert copy is not None and (copy.format, copy.json_option) == ("json", "auto ignorecase")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("COPY t FROM 's3://b/k' LZOP", "COPY option LZOP"),
        ("COPY t FROM 's3://b/k' ENCODING UTF16", "COPY ENCODING UTF16"),
        ("COPY t FROM 's3://b/k' TIMEFORMAT 'epochsecs'", "COPY TIMEFORMAT 'epochsecs'"),
        ("COPY t FROM 's3://b/k' DELIMITER", "COPY option DELIMITER without a value"),
        ("COPY t FROM 's3://b/k' FORMAT AS", "COPY option FORMAT without a format"),
        ("COPY FROM 's3://b/k'", "COPY without a table name"),
    ],
)
def test_copy_refusals(sql: str, construct: str) -> None:
    with pytest.raises(UnsupportedSqlError) as caught:
        translate(sql)
    assert caught.value.construct == construct


def test_unload_options() -> None:
    unload = translate(
        "UNLOAD ('SELECT NVL(a, ''x'') FROM t') TO 's3://b/out/p_' IAM_ROLE 'arn' FORMAT CSV HEADER "
        "DELIMITER AS ';' GZIP PARALLEL OFF MANIFEST VERBOSE ALLOWOVERWRITE NULL AS 'n' MAXFILESIZE 10 MB"
    ).unload
    assert unload is not None
    assert unload.query == "SELECT COALESCE(a, 'x') FROM t"
    assert (unload.target.bucket, unload.target.key) == ("b", "out/p_")
    assert (unload.format, unload.header, unload.delimiter, unload.compression) == ("csv", True, ";", "gzip")
    assert not unload.parallel and unload.manifest and unload.manifest_verbose and unload.allow_overwrite
    assert (unload.null_as, unload.max_file_size) == ("n", 10 << 20)


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("UNLOAD 'SELECT 1' TO 's3://b/p'", "UNLOAD syntax other than UNLOAD ('query') TO 's3://...'"),
        ("UNLOAD ('SELECT 1') TO 's3://b/p' CLEANPATH", "UNLOAD option CLEANPATH"),
        ("UNLOAD ('SELECT 1') TO 's3://b/p' NULL AS", "UNLOAD option NULL without a value"),
        ("UNLOAD ('SELECT 1') TO 's3://b/p' FORMAT", "UNLOAD option FORMAT without a format"),
    ],
)
def test_unload_refusals(sql: str, construct: str) -> None:
    with pytest.raises(UnsupportedSqlError) as caught:
        translate(sql)
    assert caught.value.construct == construct
