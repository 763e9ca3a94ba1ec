"""Metadata operations, and the AWS CLI commands of the Data API lab against the local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

TARGET = {"ClusterIdentifier": "redshift-cluster-us", "Database": "dev"}
AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def schema(shared_endpoint: Any, make_client: Any) -> str:
    """A schema `rs_<random>` with tables `product`, `prod_sales`, a view `prod_view` and `event`."""
    name = f"rs_{uuid.uuid4().hex[:8]}"
    client = make_client(shared_endpoint.url)
    submitted = client.batch_execute_statement(
        Sqls=[
            f"CREATE SCHEMA {name}",
            f"CREATE TABLE {name}.product (sku varchar(32) NOT NULL, price numeric(10,2) DEFAULT 0, qty int)",
            f"CREATE TABLE {name}.prod_sales (id bigint, sold_at timestamp)",
            f"CREATE VIEW {name}.prod_view AS SELECT sku FROM {name}.product",
            f"CREATE TABLE {name}.event (id int)",
        ],
        WaitTimeSeconds=10,
        **TARGET,
    )
    assert client.describe_statement(Id=submitted["Id"])["Status"] == "FINISHED"
    return name


def test_list_databases_and_schemas(client: Any, schema: str) -> None:
    assert "dev" in client.list_databases(**TARGET)["Databases"]
    assert client.list_schemas(SchemaPattern="rs%", **TARGET)["Schemas"] == [
        s for s in client.list_schemas(**TARGET)["Schemas"] if s.startswith("rs")
    ]
    assert schema in client.list_schemas(SchemaPattern=schema, **TARGET)["Schemas"]
    assert "public" in client.list_schemas(**TARGET)["Schemas"]


def test_list_tables_with_patterns(client: Any, schema: str) -> None:
    tables = client.list_tables(SchemaPattern=schema, TablePattern="prod%", **TARGET)["Tables"]
    assert tables == [
        {"name": "prod_sales", "schema": schema, "type": "TABLE"},
        {"name": "prod_view", "schema": schema, "type": "VIEW"},
        {"name": "product", "schema": schema, "type": "TABLE"},
    ]
    pages = list(
        client.get_paginator("list_tables").paginate(
            SchemaPattern=schema, PaginationConfig={"PageSize": 2}, **TARGET
        )
    )
    assert [len(page["Tables"]) for page in pages] == [2, 2]


def test_describe_table(client: Any, schema: str) -> None:
    described = client.describe_table(Schema=schema, Table="product", **TARGET)
    assert described["TableName"] == "product"
    columns = {c["name"]: c for c in described["ColumnList"]}
    assert list(columns) == ["sku", "price", "qty"]
    assert (columns["sku"]["typeName"], columns["sku"]["length"], columns["sku"]["nullable"]) == (
        "varchar",
        32,
        0,
    )
    assert (columns["price"]["precision"], columns["price"]["scale"]) == (10, 2)
    assert columns["price"]["columnDefault"] == "0"
    assert columns["qty"]["typeName"] == "int4"
    assert columns["qty"]["schemaName"] == schema


def _aws(endpoint: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\noutput = json\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    completed = subprocess.run(
        [str(AWS), "redshift-data", *args, "--endpoint-url", endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(completed.stdout))


def test_the_lab_cli_commands(shared_endpoint: Any, schema: str, tmp_path: Path) -> None:
    url = shared_endpoint.url
    target = ["--database", "dev", "--db-user", "awsuser", "--cluster-identifier", "redshift-cluster-us"]
    submitted = _aws(
        url, tmp_path, "execute-statement", *target, "--sql", f'SELECT * FROM "dev"."{schema}"."event";'
    )
    described = _aws(url, tmp_path, "describe-statement", "--id", submitted["Id"])
    while described["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
        described = _aws(url, tmp_path, "describe-statement", "--id", submitted["Id"])
    assert described["Status"] == "FINISHED"
    result = _aws(url, tmp_path, "get-statement-result", "--id", submitted["Id"])
    assert result["TotalNumRows"] == 0
    assert [c["name"] for c in result["ColumnMetadata"]] == ["id"]
    tables = _aws(
        url, tmp_path, "list-tables", *target, "--region", "us-east-1",
        "--table-pattern", "even%", "--schema-pattern", schema[:5] + "%",
    )  # fmt: skip
    assert {"name": "event", "schema": schema, "type": "TABLE"} in tables["Tables"]
