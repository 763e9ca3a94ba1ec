"""Shared code of the rsetl Lambda functions (shipped as the EtlCommon layer).

The names below load their module on first use (PEP 562 module `__getattr__`): a function imports
only the helpers it uses and their own dependencies. `PollPolicy` needs nothing beyond the standard
library, `RedshiftTarget` nothing, the Data API helpers botocore; only spec and schema work pulls in
PyYAML and jsonschema (the layer's requirements.txt).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataapi import cancel, client_token, describe, statement_error, statement_name, submit
    from .errors import (
        TRANSIENT_ERRORS,
        DataApiError,
        EtlError,
        EventValidationError,
        InputError,
        PutEventsError,
        SpecError,
        UnsafeValueError,
    )
    from .events import (
        PIPELINE_FAILED,
        PIPELINE_SUCCEEDED,
        SOURCE,
        failure_summary,
        pipeline_failed,
        pipeline_succeeded,
        put_event,
        validate_event,
    )
    from .params import resolve_parameters
    from .polling import PollPolicy
    from .quarantine import failed_load, move_to_quarantine, record_failed_load
    from .runs import (
        cancel_running_statements,
        cancel_step,
        check_statement,
        execute_step,
        prepare_run,
        render_step,
    )
    from .schemas import pipelines_dir, schema_errors
    from .specs import load_all_specs, load_spec, parse_spec, spec_names
    from .sqltext import quote_literal, referenced_parameters, s3_copy_source
    from .target import RedshiftTarget

_EXPORTS: dict[str, tuple[str, ...]] = {
    "dataapi": ("cancel", "client_token", "describe", "statement_error", "statement_name", "submit"),
    "errors": (
        "DataApiError",
        "EtlError",
        "EventValidationError",
        "InputError",
        "PutEventsError",
        "SpecError",
        "TRANSIENT_ERRORS",
        "UnsafeValueError",
    ),
    "events": (
        "PIPELINE_FAILED",
        "PIPELINE_SUCCEEDED",
        "SOURCE",
        "failure_summary",
        "pipeline_failed",
        "pipeline_succeeded",
        "put_event",
        "validate_event",
    ),
    "params": ("resolve_parameters",),
    "polling": ("PollPolicy",),
    "quarantine": ("failed_load", "move_to_quarantine", "record_failed_load"),
    "runs": (
        "cancel_running_statements",
        "cancel_step",
        "check_statement",
        "execute_step",
        "prepare_run",
        "render_step",
    ),
    "schemas": ("pipelines_dir", "schema_errors"),
    "specs": ("load_all_specs", "load_spec", "parse_spec", "spec_names"),
    "sqltext": ("quote_literal", "referenced_parameters", "s3_copy_source"),
    "target": ("RedshiftTarget",),
}
"""The public names of each module of the package."""

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "PIPELINE_FAILED",
    "PIPELINE_SUCCEEDED",
    "SOURCE",
    "TRANSIENT_ERRORS",
    "DataApiError",
    "EtlError",
    "EventValidationError",
    "InputError",
    "PollPolicy",
    "PutEventsError",
    "RedshiftTarget",
    "SpecError",
    "UnsafeValueError",
    "cancel",
    "cancel_running_statements",
    "cancel_step",
    "check_statement",
    "client_token",
    "describe",
    "execute_step",
    "failed_load",
    "failure_summary",
    "load_all_specs",
    "load_spec",
    "move_to_quarantine",
    "parse_spec",
    "pipeline_failed",
    "pipeline_succeeded",
    "pipelines_dir",
    "prepare_run",
    "put_event",
    "quote_literal",
    "record_failed_load",
    "referenced_parameters",
    "render_step",
    "resolve_parameters",
    "s3_copy_source",
    "schema_errors",
    "spec_names",
    "statement_error",
    "statement_name",
    "submit",
    "validate_event",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
