"""Pipeline specs: the shipped ones are valid and consistent; bad ones fail with a clear message."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from etl_common import SpecError, load_all_specs, load_spec, parse_spec, spec_names
from etl_common.specs import iter_steps

CONTRACT_PIPELINES = {
    "ingest_sales",
    "ingest_products",
    "ingest_stores",
    "refresh_sales_views",
    "nightly_sales_snapshot",
    "load_customer_segments",
}

GOOD = """\
name: demo
parameters:
  business_date: {type: date, required: true}
steps:
  - name: build
    statements:
      - call: {procedure: sales.sp_build_daily_snapshot, args: [business_date]}
"""


def test_the_contract_pipelines_ship_and_validate() -> None:
    specs = load_all_specs()
    assert set(specs) >= CONTRACT_PIPELINES
    assert set(spec_names()) == set(specs)


@pytest.mark.parametrize("name", ["ingest_sales", "ingest_products", "ingest_stores"])
def test_ingest_is_one_transaction_batch_lock_first_then_copy_then_merge(name: str) -> None:
    """The ledger lock is the batch's first statement: a Redshift transaction's snapshot is taken
    at its first SELECT, DML or CREATE TABLE ("Isolation levels in Amazon Redshift",
    https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html), so the merge's ledger
    check sees every load that committed while this one waited for the lock."""
    spec = load_spec(name)
    ((_, (step,)),) = iter_steps(spec)
    assert step["mode"] == "TRANSACTION"
    kinds = [next(iter(statement)) for statement in step["statements"]]
    assert kinds == ["sql", "sql", "copy", "call"]
    assert step["statements"][0] == {"sql": "LOCK etl.load_ledger"}
    assert step["statements"][3]["call"]["args"] == ["bucket", "object_key", "etag", "execution_name"]
    assert spec["on_failure"] == {"quarantine": True}


def test_refresh_is_one_parallel_group() -> None:
    stages = iter_steps(load_spec("refresh_sales_views"))
    assert [(name, len(steps)) for name, steps in stages] == [("refresh_views", 2)]


@pytest.mark.parametrize(
    "wiring", ["trigger:\n  s3: {prefix: sales/}\n", "downstream:\n  - pipeline: load_customer_segments\n"]
)
def test_a_spec_declares_no_wiring(wiring: str) -> None:
    """How a pipeline starts is written once, as a rule in template.yaml (rsetl.template.pipelines)."""
    with pytest.raises(SpecError, match="Additional properties are not allowed"):
        parse_spec(GOOD + wiring, "demo.yaml")


def test_a_good_spec_parses() -> None:
    assert parse_spec(GOOD, "demo.yaml")["name"] == "demo"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("name: demo\n", ""), "(top level): 'name' is a required property"),
        (lambda t: t + "colour: blue\n", "Additional properties are not allowed ('colour' was unexpected)"),
        (
            lambda t: t.replace("args: [business_date]", "args: [business_day]"),
            "uses parameter 'business_day'",
        ),
        (
            lambda t: t.replace("name: build", "name: Build!"),
            "steps[0].name: 'Build!' does not match",
        ),
        (
            lambda t: t + "  - name: build\n    statements: [{sql: SELECT 1}]\n",
            "step name 'build' is used more than once",
        ),
        (
            lambda t: t + "on_failure: {quarantine: true}\n",
            "on_failure.quarantine needs parameters bucket, object_key, etag",
        ),
        (
            lambda t: t.replace("required: true", "default: {days_ago: 1}, type: string"),
            "days_ago is only for date parameters",
        ),
        (
            lambda t: t.replace("      - call:", "      - sql: SELECT 1\n      - call:").replace(
                "  - name: build\n", "  - name: build\n    expect: no_rows\n"
            ),
            "expect needs exactly one statement",
        ),
        (
            lambda t: t.replace(
                "statements:\n      - call", "statements:\n      - sql: SELECT :pipeline\n        call"
            ),
            "statements[0]",
        ),
        (lambda t: t + "steps: [\n", "not valid YAML"),
        (
            lambda t: t.replace("parameters:\n", "parameters:\n  pipeline: {type: string}\n"),
            "'pipeline' is built in and cannot be declared",
        ),
    ],
)
def test_bad_specs_are_rejected_with_where_and_what(change, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(change(GOOD), "demo.yaml")
    assert "demo.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_sql_over_100_kb_of_utf8_is_refused_though_under_100000_characters() -> None:
    """Redshift Data API, "Considerations when calling the Amazon Redshift Data API": the maximum
    query statement size is 100 KB (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html).
    """
    sql = "SELECT '" + "é" * 60_000 + "'"
    text = GOOD.replace("      - call:", f'      - sql: "{sql}"\n      - call:')
    with pytest.raises(
        SpecError, match=r"statements\[0\]\.sql is 120009 bytes of UTF-8; the Data API takes at most 100000"
    ):
        parse_spec(text, "demo.yaml")


def test_unknown_pipeline_lists_the_known_ones() -> None:
    with pytest.raises(
        SpecError, match=r"pipeline 'nope' has no spec file .*known pipelines: .*ingest_sales"
    ):
        load_spec("nope")


def test_pipeline_name_must_be_a_plain_name() -> None:
    with pytest.raises(SpecError, match="not a valid name"):
        load_spec("../etc/passwd")


def _folder(tmp_path: Path, pipelines_dir: Path, specs: dict[str, str]) -> Path:
    shutil.copytree(pipelines_dir / "schemas", tmp_path / "schemas")
    (tmp_path / "specs").mkdir()
    for name, text in specs.items():
        (tmp_path / "specs" / f"{name}.yaml").write_text(textwrap.dedent(text))
    return tmp_path


def test_file_name_must_match_the_spec_name(tmp_path: Path, pipelines_dir: Path) -> None:
    base = _folder(tmp_path, pipelines_dir, {"other": GOOD})
    with pytest.raises(SpecError, match="'demo' does not match the file name 'other'"):
        load_spec("other", base)
