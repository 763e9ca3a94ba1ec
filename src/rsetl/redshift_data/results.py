"""Result sets as the Data API returns them: column metadata, `Field` unions, CSV, and pages."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from rsetl.redshift_data.exceptions import ValidationException
from rsetl.redshift_data.runner import Column

_FIELD_OVERHEAD = 16
"""Approximate JSON bytes around each value (`{"stringValue": ...}`), for page sizing."""


def column_metadata(column: Column) -> dict[str, Any]:
    """ColumnMetadata for one result column, from what the SQL layer knows about it."""
    return {
        "name": column.name,
        "label": column.label or column.name,
        "typeName": column.redshift_type,
        "precision": column.precision,
        "scale": column.scale,
        "length": column.length,
        "nullable": column.nullable,
        "isSigned": column.is_signed,
        "isCaseSensitive": column.is_case_sensitive,
        "isCurrency": column.is_currency,
        "schemaName": column.schema_name,
        "tableName": column.table_name,
    }


def to_field(value: Any, type_name: str) -> dict[str, Any]:
    """One value as a `Field` union member, the way Redshift's Data API encodes it."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int) and type_name not in ("numeric", "decimal"):
        return {"longValue": value}
    if isinstance(value, float) and math.isfinite(value):
        return {"doubleValue": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"blobValue": bytes(value)}
    return {"stringValue": to_text(value)}


def to_text(value: Any) -> str:
    """The text form Redshift uses for a value (timestamps with a space, offsets as `+00`)."""
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text[:-3] if value.tzinfo is not None and text.endswith(":00") else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(value)


def _estimate(row: Sequence[Any]) -> int:
    return sum(_FIELD_OVERHEAD + (len(value) if isinstance(value, str | bytes) else 8) for value in row)


@dataclass
class ResultSet:
    """A finished statement's rows, split into pages no larger than the page limit."""

    columns: list[dict[str, Any]]
    rows: Sequence[Sequence[Any]]
    page_starts: list[int]
    size: int

    @classmethod
    def build(cls, columns: Sequence[Column], rows: Sequence[Sequence[Any]], page_bytes: int) -> ResultSet:
        starts = [0]
        page = 0
        total = 0
        for index, row in enumerate(rows):
            size = _estimate(row)
            total += size
            if page and page + size > page_bytes:
                starts.append(index)
                page = 0
            page += size
        return cls([column_metadata(column) for column in columns], rows, starts, total)

    def page(self, token: str | None, statement_id: str) -> tuple[int, int, str | None]:
        """Row range of the page `token` names, and the token of the next page."""
        index = _read_token(token, statement_id) if token else 0
        if index >= len(self.page_starts):
            raise ValidationException("The NextToken is not valid for this statement.")
        start = self.page_starts[index]
        end = self.page_starts[index + 1] if index + 1 < len(self.page_starts) else len(self.rows)
        following = _make_token(statement_id, index + 1) if index + 1 < len(self.page_starts) else None
        return start, end, following

    def records(self, start: int, end: int) -> list[list[dict[str, Any]]]:
        types = [column["typeName"] for column in self.columns]
        return [
            [to_field(value, type_name) for value, type_name in zip(row, types, strict=False)]
            for row in self.rows[start:end]
        ]

    def csv(self, start: int, end: int) -> str:
        """CSV text of a page; the first page starts with the header row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if start == 0:
            writer.writerow([column["name"] for column in self.columns])
        for row in self.rows[start:end]:
            writer.writerow(["" if value is None else to_text(value) for value in row])
        return out.getvalue()


def _make_token(statement_id: str, page: int) -> str:
    return base64.urlsafe_b64encode(f"{statement_id}|{page}".encode()).decode()


def _read_token(token: str, statement_id: str) -> int:
    try:
        owner, _, page = base64.urlsafe_b64decode(token.encode()).decode().rpartition("|")
        index = int(page)
    except ValueError:
        raise ValidationException("The NextToken is not valid.") from None
    if owner != statement_id or index < 0:
        raise ValidationException("The NextToken is not valid for this statement.")
    return index
