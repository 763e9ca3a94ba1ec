"""Result sets as the Data API returns them: column metadata, `Field` unions, CSV, pages, and the
rows of a large result kept in a file until the result expires."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from botocore.model import StructureShape

from rsetl.awsproto.models import service_model
from rsetl.redshift_data.config import Limits
from rsetl.redshift_data.exceptions import ResourceNotFoundException, ValidationException
from rsetl.redshift_sql import ColumnInfo

NO_RESULT = "Query does not have result. Please check query status with DescribeStatement."
"""ResourceNotFoundException's message for a statement without a result (or whose result expired)."""
_EXACT_NUMERIC = ("numeric", "decimal")
"""Types whose integers are strings in a `Field`, so no digit is lost."""


def column_metadata(column: ColumnInfo) -> dict[str, Any]:
    """ColumnMetadata for one column: each member of the model's shape from the field of its name."""
    return {member: getattr(column, attribute) for member, attribute in _column_members().items()}


@cache
def _column_members() -> dict[str, str]:
    """ColumnMetadata's members in botocore's redshift-data model -> the `ColumnInfo` field of each."""
    shape = service_model("redshift-data").shape_for("ColumnMetadata")
    assert isinstance(shape, StructureShape)
    return {member: re.sub(r"(?<!^)(?=[A-Z])", "_", member).lower() for member in shape.members}


def to_field(value: Any, type_name: str) -> dict[str, Any]:
    """One value as a `Field` union member, the way Redshift's Data API encodes it."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int) and type_name not in _EXACT_NUMERIC:
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


class ResultTooLarge(Exception):
    """A result set past the Data API's size limits; the statement fails with this message."""


PACKET_TOO_LARGE = "Packet for query is too large"
RESPONSE_TOO_LARGE = "Database response exceeded size limit"
"""The errors of the Data API's result size limits (titles of "Troubleshooting issues for Amazon
Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-troubleshooting.html)."""


class ResultWriter:
    """Takes a statement's rows as they stream from the database (a `RowSink`) and encodes each
    as its page format will serve it: held in memory up to `limits.result_memory_bytes`, then in a
    file at `spill_path`, so a large result costs disk, not memory."""

    def __init__(self, spill_path: Path, result_format: str, limits: Limits) -> None:
        self._path = spill_path
        self._csv = result_format == "CSV"
        self._limits = limits
        self._types: list[str] = []
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._csv_out = io.StringIO()
        self._csv_writer = csv.writer(self._csv_out, lineterminator="\n")
        self._reset()

    def _reset(self) -> None:
        self._buffer.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._offset = 0
        self._rows = 0
        self._database_bytes = 0
        self._pages: list[tuple[int, int]] = [(0, 0)]
        self._page_size = 0

    def begin(self, types: Sequence[str]) -> None:
        self._reset()
        self._types = list(types)

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        encode = self._csv_line if self._csv else self._json_line
        limits = self._limits
        for row in rows:
            line, database_bytes = encode(row)
            if database_bytes > limits.max_result_row_bytes:
                raise ResultTooLarge(PACKET_TOO_LARGE)
            self._database_bytes += database_bytes
            if self._database_bytes > limits.max_result_bytes:
                raise ResultTooLarge(RESPONSE_TOO_LARGE)
            if self._page_size and self._page_size + len(line) > limits.result_page_bytes:
                self._pages.append((self._rows, self._offset))
                self._page_size = 0
            self._page_size += len(line)
            self._offset += len(line)
            self._rows += 1
            self._buffer += line
        if self._file is None and len(self._buffer) > limits.result_memory_bytes:
            self._file = self._path.open("wb")
        if self._file is not None:
            self._file.write(self._buffer)
            self._buffer.clear()

    def finish(self, columns: Sequence[ColumnInfo]) -> ResultSet:
        """The finished result, served from memory or from the spill file."""
        spilled = self._file is not None
        if self._file is not None:
            self._file.close()
            self._file = None
        # The result takes the buffer over (no copy of what may be megabytes); the writer is done.
        result = ResultSet(
            columns=[column_metadata(column) for column in columns],
            total_rows=self._rows,
            size=self._offset,
            pages=self._pages,
            data=None if spilled else self._buffer,
            path=self._path if spilled else None,
        )
        self._buffer = bytearray()
        return result

    def discard(self) -> None:
        """Drop what was written (the statement failed or returned no rows)."""
        self._reset()
        self._path.unlink(missing_ok=True)

    def _json_line(self, row: Sequence[Any]) -> tuple[bytes, int]:
        parts = []
        size = 0
        for value, type_name in zip(row, self._types, strict=False):
            kind = type(value)
            # The common cases written directly: one json.dumps per row costs more than the rows.
            if value is None:
                parts.append('{"isNull":true}')
            elif kind is str:
                parts.append(f'{{"stringValue":{_quote(value)}}}')
                size += len(value.encode())
            elif kind is int and type_name not in _EXACT_NUMERIC:
                parts.append(f'{{"longValue":{value}}}')
                size += 8
            else:
                field = to_field(value, type_name)
                blob = field.get("blobValue")
                if blob is not None:
                    size += len(blob)
                    field = {"blobValue": base64.b64encode(blob).decode()}
                else:
                    text = field.get("stringValue")
                    size += len(text.encode()) if text is not None else 8
                parts.append(json.dumps(field, separators=(",", ":")))
        return f"[{','.join(parts)}]\n".encode(), size

    def _csv_line(self, row: Sequence[Any]) -> tuple[bytes, int]:
        texts = ["" if value is None else value if type(value) is str else to_text(value) for value in row]
        self._csv_writer.writerow(texts)
        line = self._csv_out.getvalue()
        self._csv_out.seek(0)
        self._csv_out.truncate()
        return line.encode(), sum(len(text.encode()) for text in texts)


_quote = json.encoder.encode_basestring
"""JSON string quoting (the C accelerator where the interpreter has it)."""


@dataclass
class ResultSet:
    """A finished statement's encoded rows in pages: in memory (`data`) or in a file (`path`).

    `size` is the encoded bytes of every row; `pages` holds each page's first row and byte offset.
    """

    columns: list[dict[str, Any]]
    total_rows: int
    size: int
    pages: list[tuple[int, int]]
    data: bytearray | None
    path: Path | None

    def page(self, token: str | None, statement_id: str) -> tuple[int, str | None]:
        """The index of the page `token` names, and the token of the next page."""
        index = _read_token(token, statement_id) if token else 0
        if index >= len(self.pages):
            raise ValidationException("The NextToken is not valid for this statement.")
        following = _make_token(statement_id, index + 1) if index + 1 < len(self.pages) else None
        return index, following

    def records(self, index: int) -> list[list[dict[str, Any]]]:
        """A page of a JSON result: `Field` unions per row."""
        return [
            [_decode_field(field) for field in json.loads(line)] for line in self._read(index).splitlines()
        ]

    def csv(self, index: int) -> str:
        """CSV text of a page; the first page starts with the header row."""
        text = self._read(index).decode()
        if index > 0:
            return text
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([column["name"] for column in self.columns])
        return out.getvalue() + text

    def discard(self) -> None:
        """Delete the spill file (the result expired or its statement was aborted)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _read(self, index: int) -> bytes:
        start = self.pages[index][1]
        end = self.pages[index + 1][1] if index + 1 < len(self.pages) else self.size
        if self.data is not None:
            return bytes(self.data[start:end])
        assert self.path is not None
        try:
            with self.path.open("rb") as spilled:
                spilled.seek(start)
                return spilled.read(end - start)
        except FileNotFoundError:
            # The result expired (and its file went) while this request was on its way; the file is
            # named by the statement's ID.
            raise ResourceNotFoundException(NO_RESULT, self.path.name) from None


def _decode_field(field: dict[str, Any]) -> dict[str, Any]:
    blob = field.get("blobValue")
    return {"blobValue": base64.b64decode(blob)} if blob is not None else field


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


def clear_result_files(results_dir: Path) -> None:
    """Delete the result files of statements an earlier service ran: none of them survives it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    for path in results_dir.iterdir():
        if path.is_file():
            path.unlink(missing_ok=True)
