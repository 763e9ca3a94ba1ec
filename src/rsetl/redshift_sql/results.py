"""What running a statement returns: column metadata in Redshift's terms, rows, rows affected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

# PostgreSQL type OID -> (Redshift type name, default precision reported by the Data API).
_TYPES: dict[int, tuple[str, int]] = {
    16: ("bool", 1),
    17: ("varbyte", 0),
    18: ("char", 1),
    19: ("name", 64),
    20: ("int8", 19),
    21: ("int2", 5),
    23: ("int4", 10),
    25: ("varchar", 0),
    26: ("oid", 10),
    114: ("super", 0),
    700: ("float4", 8),
    701: ("float8", 17),
    705: ("varchar", 0),
    1042: ("bpchar", 0),
    1043: ("varchar", 0),
    1082: ("date", 13),
    1083: ("time", 15),
    1114: ("timestamp", 29),
    1184: ("timestamptz", 35),
    1186: ("interval", 49),
    1266: ("timetz", 21),
    1700: ("numeric", 0),
    3802: ("super", 0),
}
_OTHER_TYPE = ("varchar", 0)
"""Types without a Redshift counterpart read as text."""
_SIGNED = {"int2", "int4", "int8", "float4", "float8", "numeric", "interval"}
_CASE_SENSITIVE = {"varchar", "bpchar", "char", "name", "super"}


@dataclass(frozen=True)
class ColumnInfo:
    """One column as the Data API's ColumnMetadata describes it: each field is the member of that
    shape in botocore's redshift-data model of the same name in snake case (`typeName`: `type_name`)."""

    name: str
    label: str
    type_name: str
    precision: int = 0
    scale: int = 0
    nullable: int = 1
    """0: no nulls, 1: nullable, 2: unknown (the Data API's convention)."""
    schema_name: str = ""
    table_name: str = ""
    is_case_sensitive: bool = False
    is_signed: bool = False
    is_currency: bool = False
    length: int = 0
    column_default: str | None = None
    """Only DescribeTable knows a column's default."""


@dataclass(frozen=True)
class StatementOutcome:
    """The result of one statement: rows (for statements that return them) and rows affected."""

    columns: list[ColumnInfo] | None = None
    rows: list[tuple[Any, ...]] | None = None
    rows_affected: int = 0


def redshift_type(type_oid: int) -> str:
    """The Redshift type name of a PostgreSQL type OID."""
    return _TYPES.get(type_oid, _OTHER_TYPE)[0]


def describe_columns(cursor: psycopg.Cursor[Any]) -> list[ColumnInfo]:
    """Column metadata of the cursor's current result, with source tables looked up where known."""
    description = cursor.description or []
    result = cursor.pgresult
    sources: dict[int, tuple[int, int]] = {}
    if result is not None:
        for index in range(len(description)):
            table_oid = result.ftable(index)
            if table_oid:
                sources[index] = (table_oid, result.ftablecol(index))
    origins = _lookup_origins(cursor.connection, set(sources.values())) if sources else {}
    columns = []
    for index, column in enumerate(description):
        type_name, default_precision = _TYPES.get(column.type_code, _OTHER_TYPE)
        precision, scale, length = default_precision, 0, 0
        if type_name == "numeric":
            precision, scale = column.precision or 0, column.scale or 0
        elif type_name in ("varchar", "bpchar"):
            length = column.display_size or 0
            precision = length
        schema_name, table_name, not_null = origins.get(sources.get(index, (0, 0)), ("", "", False))
        columns.append(
            ColumnInfo(
                name=column.name,
                label=column.name,
                type_name=type_name,
                precision=precision,
                scale=scale,
                nullable=0 if not_null else 1,
                schema_name=schema_name,
                table_name=table_name,
                is_case_sensitive=type_name in _CASE_SENSITIVE,
                is_signed=type_name in _SIGNED,
                length=length,
            )
        )
    return columns


def _lookup_origins(
    conn: psycopg.Connection[Any], keys: set[tuple[int, int]]
) -> dict[tuple[int, int], tuple[str, str, bool]]:
    oids = [oid for oid, _ in keys]
    numbers = [number for _, number in keys]
    rows = conn.execute(
        "SELECT a.attrelid::int8, a.attnum::int4, n.nspname, c.relname, a.attnotnull"
        " FROM unnest(%s::oid[], %s::int2[]) AS k(relid, num)"
        " JOIN pg_attribute a ON a.attrelid = k.relid AND a.attnum = k.num"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
        (oids, numbers),
        prepare=False,
    ).fetchall()
    return {(row[0], row[1]): (row[2], row[3], bool(row[4])) for row in rows}
