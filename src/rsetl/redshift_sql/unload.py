"""Redshift UNLOAD ('select ...') TO 's3://prefix' through PostgreSQL's COPY (query) TO STDOUT."""

from __future__ import annotations

import bz2
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlglot.tokens import Token, TokenType

from rsetl.objectstore import ObjectStore, ObjectStoreError
from rsetl.redshift_sql.exceptions import RedshiftSqlError, S3AccessError, UnloadError, UnsupportedSqlError
from rsetl.redshift_sql.lexer import word
from rsetl.redshift_sql.options import FileOptions, OptionReader
from rsetl.redshift_sql.s3url import S3Url

_SUFFIX = {"none": "", "gzip": ".gz", "bzip2": ".bz2"}
_MIN_FILE_SIZE = 5 << 20
_MAX_FILE_SIZE = int(6.2 * (1 << 30))


@dataclass
class UnloadCommand(FileOptions):
    """A parsed Redshift UNLOAD; `query` is already translated to PostgreSQL."""

    query: str
    target: S3Url
    header: bool = False
    parallel: bool = True
    manifest: bool = False
    manifest_verbose: bool = False
    allow_overwrite: bool = False
    add_quotes: bool = False
    extension: str | None = None
    max_file_size: int | None = None


def parse_unload(statement: str, tokens: list[Token], translate_query: Callable[[str], str]) -> UnloadCommand:
    """Parse `UNLOAD ('query') TO 's3://...' [options]`."""
    kinds = [token.token_type for token in tokens[:6]]
    if kinds[1:4] != [TokenType.L_PAREN, TokenType.STRING, TokenType.R_PAREN] or word(tokens[4]) != "TO":
        raise UnsupportedSqlError("UNLOAD syntax other than UNLOAD ('query') TO 's3://...'")
    if len(tokens) < 6 or tokens[5].token_type != TokenType.STRING:
        raise UnsupportedSqlError("UNLOAD to anything but an 's3://...' string")
    command = UnloadCommand(
        query=translate_query(tokens[2].text), target=S3Url.parse(tokens[5].text, "UNLOAD")
    )
    OptionReader("UNLOAD", tokens, 6).read_into(command, _option)
    _check_combination(command)
    return command


def _check_combination(command: UnloadCommand) -> None:
    """Refuse what Redshift refuses together or out of range, and ESCAPE, which the layer cannot write."""
    if command.format == "csv" and command.add_quotes:
        raise RedshiftSqlError("You can't use CSV with FIXEDWIDTH or ADDQUOTES.")
    if command.format == "json" and (
        command.delimiter is not None
        or command.header
        or command.add_quotes
        or command.escape
        or command.null_as is not None
    ):
        raise RedshiftSqlError(
            "You can't use JSON with DELIMITER, HEADER, FIXEDWIDTH, ADDQUOTES, ESCAPE, or NULL AS."
        )
    if command.max_file_size is not None and not _MIN_FILE_SIZE <= command.max_file_size <= _MAX_FILE_SIZE:
        raise RedshiftSqlError("MAXFILESIZE must be a decimal value between 5 MB and 6.2 GB.")
    if command.escape:
        raise UnsupportedSqlError("UNLOAD ESCAPE")


def _option(reader: OptionReader, option: str, command: UnloadCommand) -> None:
    """Apply one of the options only UNLOAD takes."""
    if option == "JSON":
        command.format = "json"
    elif option in ("PARQUET", "ORC", "FIXEDWIDTH"):
        raise UnsupportedSqlError(f"UNLOAD {option}")
    elif option == "HEADER":
        command.header = True
    elif option == "PARALLEL":
        setting = reader.take("ON", "OFF", "TRUE", "FALSE")
        if setting:
            command.parallel = setting in ("ON", "TRUE")
    elif option == "MANIFEST":
        command.manifest = True
        command.manifest_verbose = bool(reader.take("VERBOSE"))
    elif option == "ALLOWOVERWRITE":
        command.allow_overwrite = True
    elif option == "ADDQUOTES":
        command.add_quotes = True
    elif option == "EXTENSION":
        command.extension = reader.value(option)
    elif option == "MAXFILESIZE":
        size = reader.value(option)
        scale = 1 << 30 if reader.take("MB", "GB") == "GB" else 1 << 20
        command.max_file_size = int(float(size) * scale)
    else:
        raise UnsupportedSqlError(f"UNLOAD option {option}")


def run_unload(conn: psycopg.Connection[Any], command: UnloadCommand, store: ObjectStore) -> int:
    """Run the query, write its files (and manifest); return the rows unloaded."""
    rows, data = _render(conn, command)
    # "When zero rows are unloaded, Amazon Redshift does not write Amazon S3 objects" (JSON).
    parts = [] if command.format == "json" and rows == 0 else _split(data, command.max_file_size)
    # EXTENSION replaces the compression's suffix: "you still have to specify .gz in the extension".
    suffix = f".{command.extension.lstrip('.')}" if command.extension else _SUFFIX[command.compression]
    prefix = command.target.key
    if command.parallel:
        names = [f"{prefix}0000_part_{index:02d}{suffix}" for index in range(len(parts))]
    else:
        names = [f"{prefix}{index:03d}{suffix}" for index in range(len(parts))]
    manifest_key = f"{prefix}manifest" if command.manifest else None
    _check_overwrite(store, command, [*names, *([manifest_key] if manifest_key else [])])
    entries: list[dict[str, Any]] = []
    total = 0
    for name, part in zip(names, parts, strict=True):
        body = _compress(part, command.compression)
        _put(store, command.target.bucket, name, body)
        total += len(body)
        entries.append({"url": f"s3://{command.target.bucket}/{name}", "meta": {"content_length": len(body)}})
    if manifest_key is not None:
        document: dict[str, Any] = {"entries": entries}
        if command.manifest_verbose:
            document["meta"] = {"content_length": total, "record_count": rows}
        _put(store, command.target.bucket, manifest_key, json.dumps(document, indent=2).encode())
    return rows


def _render(conn: psycopg.Connection[Any], command: UnloadCommand) -> tuple[int, bytes]:
    query: sql.Composable = sql.SQL(command.query)
    if command.format == "json":
        query = sql.SQL("SELECT row_to_json(q)::text FROM ({}) AS q").format(query)
        with conn.cursor() as cursor:
            cursor.execute(query)
            lines = [row[0] for row in cursor.fetchall()]
        return len(lines), "".join(f"{line}\n" for line in lines).encode()
    options: list[sql.Composable] = [sql.SQL("FORMAT csv")]
    default_delimiter = "," if command.format == "csv" else "|"
    options.append(sql.SQL("DELIMITER {}").format(sql.Literal(command.delimiter or default_delimiter)))
    options.append(sql.SQL("NULL {}").format(sql.Literal(command.null_as or "")))
    if command.header:
        options.append(sql.SQL("HEADER"))
    if command.format == "text":
        if command.add_quotes:
            options.append(sql.SQL("FORCE_QUOTE *"))
        else:
            # Delimited text is written unquoted; a control character stands in for "no quote character".
            options.append(sql.SQL("QUOTE {}").format(sql.Literal("\x01")))
    statement = sql.SQL("COPY ({}) TO STDOUT ({})").format(query, sql.SQL(", ").join(options))
    with conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            chunks = [bytes(chunk) for chunk in copy]
        rows = max(cursor.rowcount, 0)
    return rows, b"".join(chunks)


def _split(data: bytes, max_size: int | None) -> list[bytes]:
    if max_size is None or len(data) <= max_size:
        return [data]
    parts = []
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + max_size) + 1
        if end <= start:
            end = data.find(b"\n", start + max_size) + 1 or len(data)
        parts.append(data[start:end])
        start = end
    return parts


def _compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "bzip2":
        return bz2.compress(data)
    return data


def _check_overwrite(store: ObjectStore, command: UnloadCommand, names: list[str]) -> None:
    if command.allow_overwrite:
        return
    try:
        existing = set(store.list_keys(command.target.bucket, command.target.key))
    except ObjectStoreError as error:
        raise S3AccessError(f"cannot list {command.target}: {error}") from error
    clash = sorted(existing.intersection(names))
    if clash:
        raise UnloadError(
            f"Specified unload destination on S3 is not empty: s3://{command.target.bucket}/{clash[0]}"
            " exists. Use ALLOWOVERWRITE or another prefix."
        )


def _put(store: ObjectStore, bucket: str, key: str, body: bytes) -> None:
    try:
        store.put_object(bucket, key, body)
    except ObjectStoreError as error:
        raise S3AccessError(f"cannot write s3://{bucket}/{key}: {error}") from error
