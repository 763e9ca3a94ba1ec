"""COPY of JSON records: by key ('auto', 'auto ignorecase') or by a JSONPaths file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import psycopg
from psycopg import sql

from rsetl.objectstore import ObjectStore
from rsetl.redshift_sql.copy_command import CopyCommand
from rsetl.redshift_sql.copy_input import Column, decompress
from rsetl.redshift_sql.exceptions import LoadError, RedshiftSqlError, S3AccessError, UnsupportedSqlError
from rsetl.redshift_sql.s3url import S3Url, get_object

_JSONPATH_STEP = re.compile(r"\.([A-Za-z_][\w$]*)|\['([^']*)'\]|\[\"([^\"]*)\"\]|\[(\d+)\]")


Extract = Callable[[dict[str, Any]], list[Any]]


def json_extractor(command: CopyCommand, columns: list[Column], store: ObjectStore) -> Extract:
    """How one JSON record becomes the column values: by key ('auto') or by a JSONPaths file."""
    option = command.json_option
    names = [column.name for column in columns]
    if option.lower() == "auto":
        return lambda document: [document.get(name) for name in names]
    if option.lower() == "auto ignorecase":
        return lambda document: [
            {key.lower(): value for key, value in document.items()}.get(name) for name in names
        ]
    if not option.startswith("s3://"):
        raise UnsupportedSqlError(
            f"COPY JSON '{option}'", "use 'auto', 'auto ignorecase' or an s3:// JSONPaths file"
        )
    url = S3Url.parse(option, "COPY")
    try:
        paths = json.loads(get_object(store, url).body)["jsonpaths"]
    except (ValueError, KeyError, TypeError) as error:
        raise S3AccessError(f"invalid JSONPaths file {url}: {error}") from error
    if len(paths) != len(columns):
        raise RedshiftSqlError(
            f"Number of jsonpaths and the number of columns should match. JSONPath size: {len(paths)},"
            f" Number of columns in table or column list: {len(columns)}"
        )
    steps = [_jsonpath_steps(str(path)) for path in paths]
    return lambda document: [_walk(document, path) for path in steps]


def _jsonpath_steps(path: str) -> list[str | int]:
    """`$.a.b`, `$['a']`, `$["a"]`, `$.a[0]` as a list of keys and indexes."""
    if not path.startswith("$"):
        raise UnsupportedSqlError(f"JSONPath expression {path!r}", "paths start with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _JSONPATH_STEP.match(path, position)
        if match is None:
            raise UnsupportedSqlError(
                f"JSONPath expression {path!r}", "only .name, ['name'] and [index] steps"
            )
        name, quoted, double_quoted, index = match.groups()
        steps.append(int(index) if index is not None else name or quoted or double_quoted or "")
        position = match.end()
    return steps


def _walk(document: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict):
            document = document.get(step)
        else:
            return None
    return document


def copy_json(
    cursor: psycopg.Cursor[Any],
    command: CopyCommand,
    columns: list[Column],
    extract: Extract,
    body: bytes,
    file: S3Url,
    record_lines: list[int],
) -> int:
    """Load one file of JSON records, appending the line each starts on to `record_lines`; return its rows."""
    text = b"".join(decompress(body, command.compression)).decode("utf-8")
    names = [column.name for column in columns]
    scales = [None if command.round_decimals else column.scale for column in columns]
    decoder = json.JSONDecoder()
    position = last = 0
    record = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.SQL(command.table), sql.SQL(", ").join(sql.Identifier(name) for name in names)
    )
    with cursor.copy(statement) as copy:
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            line = (record_lines[-1] if record_lines else 1) + text.count("\n", last, position)
            last = position
            try:
                document, position = decoder.raw_decode(text, position)
            except ValueError as error:
                raise LoadError(
                    command.table, file=str(file), line=line, column=None, reason=f"invalid JSON: {error}"
                ) from error
            if not isinstance(document, dict):
                raise LoadError(
                    command.table,
                    file=str(file),
                    line=line,
                    column=None,
                    reason="a JSON record must be an object",
                )
            record += 1
            record_lines.append(line)
            values = [_json_value(value) for value in extract(document)]
            copy.write_row([_truncate(value, scale) for value, scale in zip(values, scales, strict=True)])
    return record


def _truncate(value: str | None, scale: int | None) -> str | None:
    """Cut a numeric text to `scale` decimals, as Redshift's COPY does without ROUNDEC."""
    if value is None or scale is None:
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value  # not a number: PostgreSQL rejects it with the column named
    if not number.is_finite():
        return value
    return str(number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN))


def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
