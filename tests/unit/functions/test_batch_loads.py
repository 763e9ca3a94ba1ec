"""ingest_sales_batch's step as the layer renders it: LOCK and CREATE once, COPY + CALL per file.

BatchExecuteStatement takes at most 40 SQL statements (Redshift Data API Reference,
BatchExecuteStatement, Sqls: "Maximum number of 40 items"), which bounds the files of one run.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from etl_common import InputError, SpecError, load_spec, parse_spec, prepare_run
from etl_common.batches import file_values, max_files
from etl_common.runs import render_step

BUCKET = "landing-1"


def batch_files(count: int) -> list[dict[str, str]]:
    return [{"object_key": f"sales/f{n}.csv", "etag": f"e{n}"} for n in range(1, count + 1)]


def staged(files: list[dict[str, str]]) -> list[dict]:
    return [
        {
            **f,
            "source": {
                "status": "STAGED",
                "manifest": f"s3://{BUCKET}/rsetl-staging/x/{n}/{f['object_key']}.m",
            },
        }
        for n, f in enumerate(files, start=1)
    ]


def render(files: list[Any]) -> tuple[list[str], list[str]]:
    spec = load_spec("ingest_sales_batch")
    values = {"bucket": BUCKET, "pipeline": spec["name"], "execution_name": "x", **file_values(files)}
    rendered = render_step(spec, "load_files", values, "", files=files)
    return rendered.sqls, rendered.parameter_names


def test_each_file_copies_its_own_staged_version_and_calls_the_merge_with_its_own_parameters() -> None:
    sqls, names = render(staged(batch_files(2)))
    assert sqls[:2] == [
        "LOCK etl.load_ledger",
        "CREATE TEMP TABLE sales_lines_batch (LIKE staging.sales_lines)",
    ]
    assert sqls[2].startswith(f"COPY sales_lines_batch FROM 's3://{BUCKET}/rsetl-staging/x/1/sales/f1.csv.m'")
    assert " MANIFEST " in sqls[2]
    assert sqls[3] == "CALL sales.sp_merge_sales_lines(:bucket, :object_key_1, :etag_1, :execution_name)"
    assert "/x/2/sales/f2.csv.m'" in sqls[4]
    assert sqls[5] == "CALL sales.sp_merge_sales_lines(:bucket, :object_key_2, :etag_2, :execution_name)"
    assert names == ["bucket", "object_key_1", "etag_1", "execution_name", "object_key_2", "etag_2"]


def test_a_superseded_file_is_recorded_while_the_others_load() -> None:
    files = staged(batch_files(2))
    files[0]["source"] = {"status": "SUPERSEDED", "reason": "overwritten"}
    sqls, names = render(files)
    assert sqls[2] == (
        "CALL etl.sp_record_superseded_load("
        ":bucket, :object_key_1, :etag_1, :pipeline, :execution_name, :reason_1)"
    )
    assert sqls[3].startswith("COPY ") and len(sqls) == 5
    assert "reason_1" in names and file_values(files)["reason_1"] == "overwritten"


def test_the_most_files_a_run_takes_fill_one_batch_execute_statement() -> None:
    spec = load_spec("ingest_sales_batch")
    most = max_files(spec)
    assert most == 19
    sqls, _ = render(staged(batch_files(most)))
    model = botocore.session.get_session().get_service_model("redshift-data")
    shape = model.operation_model("BatchExecuteStatement").input_shape
    assert shape is not None and len(sqls) <= shape.members["Sqls"].metadata["max"]


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({"pipeline": "ingest_sales_batch", "parameters": {"bucket": BUCKET}}, "needs files"),
        (
            {"pipeline": "ingest_sales_batch", "parameters": {"bucket": BUCKET}, "files": batch_files(20)},
            "at most 19 files",
        ),
        (
            {
                "pipeline": "ingest_sales",
                "parameters": {"bucket": BUCKET, "object_key": "sales/a.csv", "etag": "e"},
                "files": batch_files(1),
            },
            "takes no files",
        ),
        (
            {
                "pipeline": "ingest_sales_batch",
                "parameters": {"bucket": BUCKET},
                "files": [{"object_key": "../x", "etag": "e"}],
            },
            "path segment",
        ),
    ],
)
def test_a_bad_batch_fails_before_any_sql(execution_input: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        prepare_run(
            execution_input, execution_name="x", execution_arn="arn", started_at="2026-11-06T00:00:00Z",
            default_timeout_seconds=60,
        )  # fmt: skip


def test_per_file_statements_may_not_read_file_parameters_in_sql_or_nest() -> None:
    text = """
name: bad_batch
parameters: {bucket: {type: string}}
steps:
  - name: s
    statements:
      - for_each_file:
          - sql: SELECT :object_key
          - for_each_file: [{sql: SELECT 1}]
"""
    with pytest.raises(SpecError, match=r"sql cannot read a file's parameters.*cannot nest"):
        parse_spec(text, "bad_batch.yaml")
