"""JSON Schemas shipped with the pipelines layer and validation with readable errors."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

PIPELINES_DIR_ENV = "PIPELINES_DIR"


def pipelines_dir() -> Path:
    """Folder holding ``specs/`` and ``schemas/`` (``/opt`` on AWS: the pipelines layer)."""
    value = os.environ.get(PIPELINES_DIR_ENV)
    if not value:
        raise RuntimeError(f"environment variable {PIPELINES_DIR_ENV} is not set")
    return Path(value)


@cache
def _validator(path: Path) -> Draft202012Validator:
    with path.open(encoding="utf-8") as handle:
        schema = json.load(handle)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_validator(name: str, base: Path | None = None) -> Draft202012Validator:
    """Validator for ``schemas/<name>.schema.json`` under the pipelines folder."""
    return _validator((base or pipelines_dir()) / "schemas" / f"{name}.schema.json")


def _location(error: ValidationError) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return path.lstrip(".") or "(top level)"


def _leaf(error: ValidationError) -> ValidationError:
    # A oneOf/anyOf failure is clearer when reported at the most specific sub-error.
    while error.context:
        error = max(error.context, key=lambda sub: len(sub.absolute_path))
    return error


def schema_errors(name: str, document: Any, base: Path | None = None) -> list[str]:
    """Every violation of schema ``name`` as ``"<where>: <what>"``, in document order."""
    validator = schema_validator(name, base)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_location(_leaf(e))}: {_leaf(e).message}" for e in errors]


def validate_document(
    name: str, document: Any, what: str, error_type: type[Exception], base: Path | None = None
) -> None:
    """Raise ``error_type`` naming ``what`` and every violation when ``document`` breaks schema ``name``."""
    errors = schema_errors(name, document, base)
    if errors:
        raise error_type(f"{what} is invalid ({name} schema): " + "; ".join(errors))
