"""SQL text rendering: the one place where a run value may enter SQL text.

Every run value reaches Redshift as a Data API parameter (``:name``) except the source
of a COPY, which Redshift only takes as a string literal. ``s3_copy_source`` is that
single exception: it validates the bucket against S3's naming rules, refuses keys
that could change the meaning of the literal or of the path, and quotes the result.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from .errors import UnsafeValueError

_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
# Literals, quoted identifiers and comments hold no parameters: blank them before scanning.
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_KEY_BYTES = 1024


def referenced_parameters(sql: str) -> list[str]:
    """Names of the ``:name`` parameters ``sql`` uses, in order of first use (``::type`` casts excluded)."""
    code = _NOT_CODE.sub(" ", sql)
    return list(dict.fromkeys(_PARAMETER.findall(code)))


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal; control characters and backslashes are refused."""
    if _CONTROL.search(value):
        raise UnsafeValueError(f"value {value!r} contains a control character")
    if "\\" in value:
        # Redshift treats a backslash in a literal as an escape, so it could end the literal early.
        raise UnsafeValueError(f"value {value!r} contains a backslash")
    return "'" + value.replace("'", "''") + "'"


def validate_bucket_name(bucket: str) -> None:
    """Raise ``UnsafeValueError`` unless ``bucket`` follows S3's general purpose bucket naming rules."""
    problem = None
    if not _BUCKET.match(bucket):
        problem = (
            "must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
        )
    elif ".." in bucket:
        problem = "must not contain two adjacent periods"
    elif bucket.startswith(_BUCKET_RESERVED_PREFIXES) or bucket.endswith(_BUCKET_RESERVED_SUFFIXES):
        problem = "uses a prefix or suffix S3 has reserved"
    else:
        try:
            ipaddress.IPv4Address(bucket)
            problem = "must not be formatted as an IP address"
        except ValueError:
            pass
    if problem:
        raise UnsafeValueError(f"bucket name {bucket!r} {problem}")


def validate_object_key(key: str) -> None:
    """Raise ``UnsafeValueError`` for a key that is empty, too long, or plays path tricks."""
    if not key:
        raise UnsafeValueError("object key is empty")
    if len(key.encode("utf-8")) > _MAX_KEY_BYTES:
        raise UnsafeValueError(f"object key is longer than {_MAX_KEY_BYTES} bytes")
    if _CONTROL.search(key):
        raise UnsafeValueError(f"object key {key!r} contains a control character")
    if "\\" in key:
        raise UnsafeValueError(f"object key {key!r} contains a backslash")
    if key.startswith("/"):
        raise UnsafeValueError(f"object key {key!r} starts with '/'")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise UnsafeValueError(f"object key {key!r} has a '.' or '..' path segment")
    if "//" in key:
        raise UnsafeValueError(f"object key {key!r} has an empty path segment ('//')")


def s3_copy_source(bucket: str, key: str) -> str:
    """The quoted ``'s3://bucket/key'`` literal for a COPY, after validating both parts."""
    validate_bucket_name(bucket)
    validate_object_key(key)
    return quote_literal(f"s3://{bucket}/{key}")


def render_statement(
    statement: Mapping[str, Any], values: Mapping[str, Any], iam_role: str, manifest: str | None = None
) -> str:
    """SQL text of one spec statement (``sql``, ``call``, ``refresh`` or ``copy``).

    ``values`` are the run's parameter values; only ``copy`` reads them (for its source),
    everything else refers to them as ``:name``. With ``manifest`` (the staged copy's manifest,
    see ``staging``) a COPY reads exactly the file it lists; without, it names the object itself,
    which only validation does (COPY would read every object under that key as a prefix).
    """
    if "sql" in statement:
        return str(statement["sql"]).strip()
    if "call" in statement:
        call = statement["call"]
        args = ", ".join(f":{name}" for name in call.get("args", []))
        return f"CALL {call['procedure']}({args})"
    if "refresh" in statement:
        return f"REFRESH MATERIALIZED VIEW {statement['refresh']}"
    if "copy" in statement:
        return _render_copy(statement["copy"], values, iam_role, manifest)
    raise UnsafeValueError(f"statement {dict(statement)!r} has none of sql, call, refresh, copy")


def _render_copy(
    copy: Mapping[str, Any], values: Mapping[str, Any], iam_role: str, manifest: str | None
) -> str:
    bucket_param = copy.get("bucket", "bucket")
    key_param = copy.get("key", "object_key")
    bucket, key = str(values[bucket_param]), str(values[key_param])
    if key.endswith("/"):
        raise UnsafeValueError(
            f"object key {key!r} ends with '/': a folder marker, not a file "
            "(COPY would load every object under it)"
        )
    role = "default" if not iam_role else quote_literal(iam_role)
    source = s3_copy_source(bucket, key)
    if manifest is not None:
        if not manifest.startswith(f"s3://{bucket}/"):
            raise UnsafeValueError(f"manifest {manifest!r} is not in bucket {bucket!r}")
        source = s3_copy_source(bucket, manifest[len(f"s3://{bucket}/") :])
    parts = [f"COPY {copy['table']} FROM {source} IAM_ROLE {role}"]
    if manifest is not None:
        parts.append("MANIFEST")
    if copy.get("options"):
        parts.append(str(copy["options"]))
    gzip = copy.get("gzip", "auto")
    if gzip is True or (gzip == "auto" and key.lower().endswith(".gz")):
        parts.append("GZIP")
    return " ".join(parts)
