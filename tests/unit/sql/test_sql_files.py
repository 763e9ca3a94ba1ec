"""Static checks of the Redshift-dialect files under sql/: order, parsing, idempotency, contracts."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from rsetl.redshift_sql.translate import translate

REPO = Path(__file__).resolve().parents[3]
ROLE_CREATOR = "etl.sp_create_role_if_missing"
"""The one procedure sql/ calls while applied: it creates a database role unless it exists."""
SQL_DIR = REPO / "sql"
SQL_FILES = sorted(SQL_DIR.glob("*.sql"))

# docs/contracts.md: procedure -> parameter names (without the p_ prefix) and types.
CONTRACT_PROCEDURES: dict[str, list[tuple[str, str]]] = {
    "sales.sp_merge_sales_lines": [
        ("bucket", "VARCHAR"),
        ("object_key", "VARCHAR"),
        ("etag", "VARCHAR"),
        ("execution_name", "VARCHAR"),
    ],
    "sales.sp_merge_products": [
        ("bucket", "VARCHAR"),
        ("object_key", "VARCHAR"),
        ("etag", "VARCHAR"),
        ("execution_name", "VARCHAR"),
    ],
    "sales.sp_merge_stores": [
        ("bucket", "VARCHAR"),
        ("object_key", "VARCHAR"),
        ("etag", "VARCHAR"),
        ("execution_name", "VARCHAR"),
    ],
    "etl.sp_record_failed_load": [
        ("bucket", "VARCHAR"),
        ("object_key", "VARCHAR"),
        ("etag", "VARCHAR"),
        ("pipeline", "VARCHAR"),
        ("execution_name", "VARCHAR"),
        ("error_message", "VARCHAR"),
    ],
    "sales.sp_build_daily_snapshot": [("business_date", "DATE")],
    "reporting.sp_load_customer_segments": [("business_date", "DATE")],
}
MERGES = {"sales.sp_merge_sales_lines": "sales_lines", "sales.sp_merge_products": "products"}
MERGES["sales.sp_merge_stores"] = "stores"
STAGING_LAYOUTS = {
    "staging.sales_lines": [
        "order_id",
        "line_number",
        "order_ts",
        "store_id",
        "product_sku",
        "customer_id",
        "quantity",
        "unit_price",
        "discount",
        "currency",
    ],
    "staging.products": ["product_sku", "product_name", "category", "list_price"],
    "staging.stores": ["store_id", "store_name", "city", "region", "opened_on"],
}
LEDGER_COLUMNS = {
    "bucket",
    "object_key",
    "etag",
    "pipeline",
    "execution_name",
    "status",
    "rows_loaded",
    "error_message",
    "recorded_at",
}


def split_statements(text: str) -> list[str]:
    """Split on top-level ';', skipping comments, quoted strings and $$ bodies."""
    statements: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end + 1
            continue
        if text.startswith("$$", i):
            end = text.index("$$", i + 2) + 2
            current.append(text[i:end])
            i = end
            continue
        char = text[i]
        if char == "'":
            end = i + 1
            while True:
                end = text.index("'", end) + 1
                if not text.startswith("'", end):
                    break
                end += 1
            current.append(text[i:end])
            i = end
            continue
        if char == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    assert not "".join(current).strip(), "text after the last ';'"
    return [statement for statement in statements if statement]


def parsed(path: Path) -> list[exp.Expr]:
    """Every statement of one file, parsed with the redshift dialect."""
    return [sqlglot.parse_one(statement, read="redshift") for statement in split_statements(path.read_text())]


def all_statements() -> list[exp.Expr]:
    """Every statement of every file, in apply order."""
    return [statement for path in SQL_FILES for statement in parsed(path)]


def procedures() -> dict[str, exp.Create]:
    """CREATE PROCEDURE statements by qualified name."""
    found = {}
    for statement in all_statements():
        if isinstance(statement, exp.Create) and statement.kind == "PROCEDURE":
            found[statement.this.this.sql("redshift")] = statement
    return found


def tables() -> dict[str, exp.Create]:
    """CREATE TABLE statements by qualified name."""
    found = {}
    for statement in all_statements():
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            found[statement.this.this.sql("redshift")] = statement
    return found


def body(procedure: exp.Create) -> str:
    """The plpgsql body between the $$ quotes."""
    return procedure.expression.this


def test_splitter_keeps_dollar_bodies_and_quotes_whole() -> None:
    text = "-- a; comment\nSELECT 'a;b';\nCREATE PROCEDURE p() AS $$ BEGIN x; y; END; $$ LANGUAGE plpgsql;\n"
    assert split_statements(text) == [
        "SELECT 'a;b'",
        "CREATE PROCEDURE p() AS $$ BEGIN x; y; END; $$ LANGUAGE plpgsql",
    ]


def test_files_are_numbered_for_apply_order() -> None:
    names = [path.name for path in SQL_FILES]
    assert len(names) >= 8
    assert all(re.fullmatch(r"\d{3}_[a-z0-9_]+\.sql", name) for name in names), names
    numbers = [name[:3] for name in names]
    assert len(set(numbers)) == len(numbers), "two files share an apply-order number"
    assert names[0] == "001_schemas.sql"


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda path: path.name)
def test_every_statement_parses_as_redshift(path: Path) -> None:
    statements = split_statements(path.read_text())
    assert statements
    for statement in statements:
        tree = sqlglot.parse_one(statement, read="redshift")
        if re.match(r"(GRANT|CALL)\b", statement):
            # sqlglot keeps some GRANT forms (ALL ... IN SCHEMA, GRANT ROLE) and CALL as text; the
            # local Redshift layer translates them itself.
            assert translate(statement).kind == "sql", statement
            continue
        # A Command is sqlglot giving up and keeping the text: the statement was not understood.
        assert not isinstance(tree, exp.Command), statement


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda path: path.name)
def test_every_statement_is_idempotent(path: Path) -> None:
    statements = parsed(path)
    for index, statement in enumerate(statements):
        if isinstance(statement, exp.Create) and statement.kind in {"SCHEMA", "TABLE"}:
            assert statement.args.get("exists"), f"{path.name}: CREATE {statement.kind} without IF NOT EXISTS"
        elif isinstance(statement, exp.Create) and statement.kind == "PROCEDURE":
            assert statement.args.get("replace"), f"{path.name}: CREATE PROCEDURE without OR REPLACE"
        elif isinstance(statement, exp.Create) and statement.kind == "VIEW":
            previous = statements[index - 1]
            assert (
                isinstance(previous, exp.Drop)
                and previous.args.get("exists")
                and previous.args["materialized"]
            )
            assert [table.sql("redshift") for table in previous.args["tables"]] == [
                statement.this.sql("redshift")
            ]
        elif isinstance(statement, exp.Grant) or statement.sql("redshift").startswith("GRANT "):
            continue  # granting a privilege a grantee holds already changes nothing
        elif statement.sql("redshift").startswith("CALL "):
            assert statement.sql("redshift").startswith(f"CALL {ROLE_CREATOR}("), statement.sql("redshift")
        elif isinstance(statement, exp.Insert):
            # Seed rows are only inserted right after the DELETE that empties their table.
            previous = statements[index - 1]
            assert isinstance(previous, exp.Delete) and previous.this == statement.this.this
        else:
            assert isinstance(statement, exp.Delete | exp.Drop), f"{path.name}: {type(statement).__name__}"


def test_contract_procedures_exist_with_their_parameters() -> None:
    found = procedures()
    assert set(CONTRACT_PROCEDURES) <= set(found)
    for name, expected in CONTRACT_PROCEDURES.items():
        parameters = [
            (column.name.removeprefix("p_"), column.args["kind"].this.name)
            for column in found[name].this.expressions
        ]
        assert parameters == expected, name
        assert all(column.name.startswith("p_") for column in found[name].this.expressions), (
            f"{name}: parameters are p_-prefixed so they never shadow a column in plpgsql"
        )


def test_procedures_are_plpgsql_with_dollar_bodies() -> None:
    for path in SQL_FILES:
        for statement in split_statements(path.read_text()):
            if re.match(r"CREATE OR REPLACE PROCEDURE", statement):
                assert re.search(
                    r"\bAS \$\$\n.*\n\$\$ LANGUAGE plpgsql(\nSECURITY DEFINER)?$", statement, re.DOTALL
                ), path.name


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_procedures_follow_the_ledger_protocol(name: str) -> None:
    text = body(procedures()[name])
    batch = f"{MERGES[name]}_batch"
    # The caller locks the ledger as its batch's first statement (pipelines/specs/ingest_*.yaml): a
    # LOCK here would come after the snapshot the batch's CREATE TABLE took, too late to see a
    # concurrent load's LOADED row.
    assert "LOCK" not in text
    assert "etl.load_ledger" not in text, "the ledger is read and written only by the ledger procedures"
    claim = text.index("CALL etl.sp_claim_file(")
    # The first write to a table the merge loads (emptying its own batch table is not one).
    first_write = re.search(rf"DELETE FROM (?!{batch}\b)|INSERT INTO", text)
    assert first_write is not None
    assert (
        claim < text.index("IF NOT v_claimed THEN") < text.index("RETURN;") < text.index("rejected (% rows)")
    )
    assert (
        text.index("rejected (% rows)") < first_write.start() < text.index("CALL etl.sp_record_loaded_file(")
    )
    assert re.search(rf"\bFROM {batch}\b", text)
    assert "GET DIAGNOSTICS v_rows := ROW_COUNT;" in text


def test_the_sales_merge_empties_its_batch_table_however_it_returns() -> None:
    """ingest_sales_batch runs COPY + CALL for each file in one transaction: the next file's COPY must
    find the table empty. DELETE, not TRUNCATE, which "commits the transaction in which it is run"
    (Amazon Redshift, TRUNCATE, https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html)."""
    text = body(procedures()["sales.sp_merge_sales_lines"])
    assert "TRUNCATE" not in text
    skipped = text.index("IF NOT v_claimed THEN")
    assert text.index("DELETE FROM sales_lines_batch;", skipped) < text.index("RETURN;", skipped)
    recorded = text.index("CALL etl.sp_record_loaded_file(")
    assert text.rindex("DELETE FROM sales_lines_batch;") > text.rindex("INSERT INTO", 0, recorded)


def test_the_ledger_protocol_is_written_once() -> None:
    """The claim reads the LOADED row that the record writes; both are the merges' only ledger access.

    The claim returns through an INOUT argument: a nested call's output needs one (Amazon Redshift,
    "CALL", Nested calls, https://docs.aws.amazon.com/redshift/latest/dg/r_CALL_procedure.html).
    """
    found = procedures()
    claim = found["etl.sp_claim_file"]
    assert re.search(r"INOUT p_claimed\s+BOOLEAN", (SQL_DIR / "010_etl_procedures.sql").read_text())
    assert "status = 'LOADED'" in body(claim) and "INSERT" not in body(claim)
    assert "'LOADED'" in body(found["etl.sp_record_loaded_file"])
    callers = [name for name, text in found.items() if "CALL etl.sp_claim_file(" in body(text)]
    assert sorted(callers) == sorted(MERGES)


def test_sales_merge_validates_quantity_currency_and_keys() -> None:
    text = body(procedures()["sales.sp_merge_sales_lines"])
    assert "quantity <= 0" in text
    assert "sales.dim_currency" in text
    assert "order_id IS NULL" in text
    assert "HAVING COUNT(*) > 1" in text
    assert "source_key = v_source_key" in text


@pytest.mark.parametrize("name", sorted(CONTRACT_PROCEDURES))
def test_procedure_body_sql_parses(name: str) -> None:
    text = body(procedures()[name])
    dml = [
        statement.strip()
        for statement in split_statements(text.replace("BEGIN", "BEGIN;"))
        if re.match(r"\s*(INSERT|DELETE|UPDATE)\b", statement)
    ]
    assert dml
    for statement in dml:
        assert isinstance(sqlglot.parse_one(statement, read="redshift"), exp.Insert | exp.Delete | exp.Update)


def test_nightly_procedures_replace_their_date() -> None:
    found = procedures()
    for name, table in (
        ("sales.sp_build_daily_snapshot", "reporting.daily_sales_snapshot"),
        ("reporting.sp_load_customer_segments", "reporting.customer_segments"),
    ):
        text = body(found[name])
        assert text.index(f"DELETE FROM {table} WHERE business_date = p_business_date;") < text.index(
            f"INSERT INTO {table}"
        )


def column_names(create: exp.Create) -> list[str]:
    """Column names of a CREATE TABLE, in order."""
    return [column.name for column in create.this.expressions if isinstance(column, exp.ColumnDef)]


def test_contract_tables_exist() -> None:
    found = tables()
    for name in ("etl.load_ledger", "sales.dim_store", "sales.dim_product", "sales.fact_sales"):
        assert name in found
    for name in ("reporting.daily_sales_snapshot", "reporting.customer_segments"):
        assert name in found
    assert set(column_names(found["etl.load_ledger"])) >= LEDGER_COLUMNS
    fact = set(column_names(found["sales.fact_sales"]))
    assert {"order_id", "line_number", "order_date", "net_amount", "source_key", "loaded_at"} <= fact


def test_staging_layouts_match_contract_and_sample_headers() -> None:
    found = tables()
    for name, columns in STAGING_LAYOUTS.items():
        assert column_names(found[name]) == columns, name
    samples = {
        "staging.sales_lines": REPO / "sample_data/sales/2026/11/01/pos_sales_20261101.csv",
        "staging.products": REPO / "sample_data/reference/products/products.csv",
        "staging.stores": REPO / "sample_data/reference/stores/stores.csv",
    }
    for name, path in samples.items():
        with path.open(newline="") as stream:
            assert next(csv.reader(stream)) == STAGING_LAYOUTS[name], path


def test_fact_is_distributed_and_sorted() -> None:
    create = tables()["sales.fact_sales"]
    properties = {type(prop).__name__: prop for prop in create.args["properties"].expressions}
    assert properties["DistKeyProperty"].this.name == "order_id"
    assert [column.name for column in properties["SortKeyProperty"].this] == ["order_date", "store_id"]


def test_materialized_views_depend_on_facts_and_dimensions() -> None:
    views = {
        statement.this.sql("redshift"): statement
        for statement in all_statements()
        if isinstance(statement, exp.Create) and statement.kind == "VIEW"
    }
    expected = {
        "reporting.mv_daily_store_sales": "sales.dim_store",
        "reporting.mv_category_sales": "sales.dim_product",
    }
    assert set(views) == set(expected)
    for name, dimension in expected.items():
        view = views[name]
        assert any(isinstance(prop, exp.MaterializedProperty) for prop in view.args["properties"].expressions)
        sources = {f"{table.db}.{table.name}" for table in view.expression.find_all(exp.Table)}
        assert sources == {"sales.fact_sales", dimension}, name
