"""Metadata operations (ListDatabases, ListSchemas, ListTables, DescribeTable) on the PostgreSQL catalog."""

from __future__ import annotations

from typing import Any

import psycopg

from rsetl.redshift_data.results import column_metadata
from rsetl.redshift_sql import ColumnInfo

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")

_DATABASES = (
    "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname"
)

_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname LIKE %(pattern)s AND nspname !~ '^pg_(toast|temp_|toast_temp_)'
ORDER BY nspname
"""

_TABLES = """
SELECT c.relname, n.nspname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname LIKE %(schema)s AND c.relname LIKE %(table)s
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, t.typname, a.atttypmod, NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname LIKE %(schema)s AND c.relname LIKE %(table)s
ORDER BY n.nspname, c.relname, a.attnum
"""

_KINDS = {"r": "TABLE", "p": "TABLE", "f": "EXTERNAL TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
_NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric"}
_TEXT = {"varchar", "bpchar", "text", "name"}
_PRECISION = {"int2": 5, "int4": 10, "int8": 19, "float4": 8, "float8": 17, "bool": 1, "date": 13}


def list_databases(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(_DATABASES)]


def list_schemas(conn: psycopg.Connection[Any], pattern: str | None) -> list[str]:
    return [row[0] for row in conn.execute(_SCHEMAS, {"pattern": pattern or "%"})]


def list_tables(conn: psycopg.Connection[Any], schema: str | None, table: str | None) -> list[dict[str, str]]:
    rows = conn.execute(_TABLES, {"schema": schema or "%", "table": table or "%"})
    return [
        {"name": name, "schema": nsp, "type": ("SYSTEM " if nsp in _SYSTEM_SCHEMAS else "") + _KINDS[kind]}
        for name, nsp, kind in rows
    ]


def describe_columns(
    conn: psycopg.Connection[Any], schema: str | None, table: str | None
) -> list[dict[str, Any]]:
    """ColumnMetadata of every column of the matching tables, in table then column order."""
    rows = conn.execute(_COLUMNS, {"schema": schema or "%", "table": table or "%"})
    return [_column(*row) for row in rows]


def _column(
    schema: str, table: str, name: str, type_name: str, typmod: int, nullable: bool, default: str | None
) -> dict[str, Any]:
    precision, scale = _PRECISION.get(type_name, 0), 0
    if type_name == "numeric" and typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    elif type_name in ("varchar", "bpchar") and typmod >= 4:
        precision = typmod - 4
    return column_metadata(
        ColumnInfo(
            name=name,
            label=name,
            type_name=type_name,
            length=precision if type_name in _TEXT else 0,
            precision=precision,
            scale=scale,
            nullable=1 if nullable else 0,
            column_default=default,
            is_signed=type_name in _NUMERIC,
            is_case_sensitive=type_name in _TEXT,
            schema_name=schema,
            table_name=table,
        )
    )
