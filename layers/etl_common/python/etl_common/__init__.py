"""Shared code of the rsetl Lambda functions (shipped as the EtlCommon layer)."""

from __future__ import annotations

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
