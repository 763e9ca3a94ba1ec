"""The work of each RunPipeline task: prepare a run, execute a step, check and cancel its statement.

Each function takes its clients and settings as arguments and returns the JSON document
the state machine keeps, so the Lambda handlers stay thin and everything here is testable
with botocore's Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from botocore.exceptions import ClientError

from .batches import FOR_EACH_FILE, file_values, for_file, loads_batches, max_files
from .dataapi import (
    cancel,
    client_token,
    describe,
    fetch_rows,
    is_known_status,
    is_running,
    sql_parameters,
    statement_error,
    statement_name,
    submit,
)
from .errors import InputError, data_api_error, is_serialization_failure
from .params import ParameterValue, parse_timestamp, resolve_parameters, sql_values
from .polling import ABORTED, FAILED, FINISHED, PollPolicy
from .schemas import validate_document
from .specs import iter_steps, load_spec, statement_parameters
from .sqltext import render_statement
from .staging import SUPERSEDED, stage_version

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_s3 import S3Client

START_INPUT_SCHEMA = "start-input"
UNKNOWN_STATUS = "UNKNOWN_STATUS"
TIMED_OUT = "TIMED_OUT"
CHECK_FAILED = "CHECK_FAILED"
EXPECT_NO_ROWS = "no_rows"
REPORTED_ROWS = 20
RECORD_SUPERSEDED = {
    "call": {
        "procedure": "etl.sp_record_superseded_load",
        "args": ["bucket", "object_key", "etag", "pipeline", "execution_name", "reason"],
    }
}


class PlannedStep(TypedDict):
    """One step of a stage, as the state machine runs it."""

    name: str
    timeout_seconds: int


class PlannedStage(TypedDict):
    """Steps that run in parallel; stages run one after another."""

    name: str
    steps: list[PlannedStep]


class Run(TypedDict):
    """The run document PrepareRun returns and the state machine passes to every later task."""

    pipeline: str
    execution_name: str
    execution_arn: str
    parameters: dict[str, ParameterValue]
    changes: list[str]
    """Tables and views the pipeline writes (the spec's `changes`)."""
    stages: list[PlannedStage]
    source: NotRequired[dict[str, str]]
    """The staged version of the object the pipeline copies (``staging.stage_version``)."""
    files: NotRequired[list[BatchFile]]
    """A batch load's files (a spec with ``for_each_file`` statements), each with its staged version."""


class BatchFile(TypedDict):
    """One object version of a batch load."""

    object_key: str
    etag: str
    source: NotRequired[dict[str, str]]


@dataclass(frozen=True)
class RenderedStep:
    """One step's SQL, ready to submit."""

    name: str
    sqls: list[str]
    parameter_names: list[str]
    mode: str
    expect: str | None = None


def prepare_run(
    execution_input: Any,
    *,
    execution_name: str,
    execution_arn: str,
    started_at: str,
    default_timeout_seconds: int,
    s3: S3Client | None = None,
    iam_role: str = "",
    base: Path | None = None,
) -> Run:
    """Validate the execution input and the pipeline spec, resolve parameters, plan the stages.

    Every step is rendered once here, so a bad value (e.g. an unsafe S3 key) fails the
    run before any SQL runs. A pipeline that COPYs its triggering object gets that exact
    version staged (``run["source"]``, see ``staging.stage_version``) through ``s3``.
    """
    validate_document(START_INPUT_SCHEMA, execution_input, "execution input", InputError, base)
    spec = load_spec(execution_input["pipeline"], base)
    parameters = resolve_parameters(
        spec, execution_input.get("parameters", {}), parse_timestamp(started_at, "execution start time")
    )
    run: Run = {
        "pipeline": spec["name"],
        "execution_name": execution_name,
        "execution_arn": execution_arn,
        "parameters": parameters,
        "changes": spec.get("changes", []),
        "stages": [],
    }
    files = _batch_files(spec, execution_input)
    if files is not None:
        run["files"] = files
    for stage_name, steps in iter_steps(spec):
        for step in steps:
            render_step(
                spec, step["name"], {**sql_values(run), **file_values(files or [])}, iam_role, files=files
            )
        run["stages"].append(
            {
                "name": stage_name,
                "steps": [
                    {
                        "name": step["name"],
                        "timeout_seconds": step.get("timeout_seconds", default_timeout_seconds),
                    }
                    for step in steps
                ],
            }
        )
    if _copies(spec):
        if s3 is None:
            raise InputError(
                f"pipeline {spec['name']!r} copies an S3 object: preparing it needs an S3 client"
            )
        values = sql_values(run)
        run["source"] = stage_version(
            s3, str(values["bucket"]), str(values["object_key"]), str(values["etag"]), execution_name
        )
    if files is not None:
        if s3 is None:
            raise InputError(f"pipeline {spec['name']!r} copies S3 objects: preparing it needs an S3 client")
        bucket = str(sql_values(run)["bucket"])
        for index, file in enumerate(files, start=1):
            # One staging folder per file: a batch may hold two versions of one key.
            where = f"{execution_name}/{index}"
            file["source"] = stage_version(s3, bucket, file["object_key"], file["etag"], where)
    return run


def _batch_files(spec: Mapping[str, Any], execution_input: Mapping[str, Any]) -> list[BatchFile] | None:
    """The input's ``files`` for a batch-loading spec (at least one, at most ``max_files``); None for
    any other spec, which takes no ``files``."""
    given = execution_input.get("files")
    if not loads_batches(spec):
        if given is not None:
            raise InputError(f"pipeline {spec['name']!r} loads no batch: its input takes no files")
        return None
    if not given:
        raise InputError(f"pipeline {spec['name']!r} loads a batch: its input needs files")
    most = max_files(spec)
    if len(given) > most:
        raise InputError(
            f"pipeline {spec['name']!r} takes at most {most} files a run "
            f"(a step is one BatchExecuteStatement of at most 40 statements), not {len(given)}"
        )
    return [{"object_key": str(f["object_key"]), "etag": str(f["etag"])} for f in given]


def _copies(spec: Mapping[str, Any]) -> bool:
    return any(
        "copy" in statement for _, steps in iter_steps(spec) for s in steps for statement in s["statements"]
    )


def render_step(
    spec: Mapping[str, Any],
    step_name: str,
    values: Mapping[str, Any],
    iam_role: str,
    source: Mapping[str, str] | None = None,
    files: list[BatchFile] | None = None,
) -> RenderedStep:
    """SQL texts and parameter names of step ``step_name`` of ``spec``.

    ``source`` is the run's staged object (``prepare_run``): a COPY reads its manifest, and a
    step that COPYs a superseded version instead records that version as SUPERSEDED. ``files``
    are a batch's (``values`` holding their ``file_values``): each file runs the step's
    ``for_each_file`` statements, or records its version SUPERSEDED, the same way.
    """
    for _, steps in iter_steps(spec):
        for step in steps:
            if step["name"] == step_name:
                statements: list[tuple[Mapping[str, Any], Mapping[str, str] | None]] = []
                for statement in step["statements"]:
                    if FOR_EACH_FILE not in statement:
                        statements.append((statement, source))
                        continue
                    for index, file in enumerate(files or [], start=1):
                        staged = file.get("source")
                        for inner in _statements_for(statement[FOR_EACH_FILE], staged):
                            statements.append((for_file(inner, index), staged))
                if files is None and any("copy" in s for s, _ in statements) and _superseded(source):
                    statements = [(RECORD_SUPERSEDED, source)]
                names: list[str] = []
                for statement, _ in statements:
                    names.extend(p for p in statement_parameters(statement) if "copy" not in statement)
                return RenderedStep(
                    name=step_name,
                    sqls=[
                        render_statement(s, values, iam_role, _manifest(staged)) for s, staged in statements
                    ],
                    parameter_names=list(dict.fromkeys(names)),
                    mode=step.get("mode", "TRANSACTION"),
                    expect=step.get("expect"),
                )
    raise InputError(f"pipeline {spec['name']!r} has no step {step_name!r}")


def _statements_for(
    statements: list[Mapping[str, Any]], staged: Mapping[str, str] | None
) -> list[Mapping[str, Any]]:
    """A file's statements: those given, or the record of its superseded version instead."""
    return [RECORD_SUPERSEDED] if _superseded(staged) else statements


def _superseded(staged: Mapping[str, str] | None) -> bool:
    return staged is not None and staged["status"] == SUPERSEDED


def _manifest(staged: Mapping[str, str] | None) -> str | None:
    return staged.get("manifest") if staged is not None else None


def execute_step(
    client: RedshiftDataAPIServiceClient,
    target: Any,
    policy: PollPolicy,
    *,
    run: Run,
    step: Mapping[str, Any],
    now: str,
    redrive_count: int,
    attempt: int = 1,
    iam_role: str = "",
    base: Path | None = None,
) -> dict[str, Any]:
    """Submit one step (idempotently) and long-poll it once; returns the step's statement state.

    ``attempt`` counts the step's submissions: the state machine submits again (attempt + 1)
    when the statement state says ``retry``. ``redrive_count`` is the execution's
    ``$$.Execution.RedriveCount``: each redrive gets new tokens.
    """
    spec = load_spec(run["pipeline"], base)
    source = run.get("source")
    files = run.get("files")
    if (source is None and _copies(spec)) or (files is None and loads_batches(spec)):
        raise InputError(
            f"run of {spec['name']!r} has no staged source: PrepareRun stages the objects it copies"
        )
    values = {
        **sql_values(run),
        **({"reason": source["reason"]} if source and "reason" in source else {}),
        **file_values(files or []),
    }
    rendered = render_step(spec, step["name"], values, iam_role, source, files)
    response = submit(
        client,
        target,
        rendered.sqls,
        sql_parameters(rendered.parameter_names, values),
        name=statement_name(run["execution_name"], step["name"]),
        token=client_token(run["execution_arn"], step["name"], redrive_count, attempt),
        mode=rendered.mode,
        wait_seconds=policy.long_poll_seconds,
    )
    description = describe(client, response["Id"])
    return _statement_state(
        client,
        policy,
        description,
        step=step["name"],
        submitted_at=now,
        timeout_seconds=int(step["timeout_seconds"]),
        elapsed=0.0,
        expect=rendered.expect,
        attempt=attempt,
    )


def check_statement(
    client: RedshiftDataAPIServiceClient,
    policy: PollPolicy,
    *,
    statement: Mapping[str, Any],
    now: str,
    remaining_ms: int | None = None,
) -> dict[str, Any]:
    """Long-poll a running statement for up to the policy's window; returns its new state.

    ``now`` is when the check started (the state machine's clock); the statement's age
    and remaining time budget are counted from it. ``remaining_ms`` (the Lambda's remaining
    time) stops the long polls early enough to return before the function times out.
    """
    elapsed = (
        parse_timestamp(now, "check time") - parse_timestamp(statement["submitted_at"], "submit time")
    ).total_seconds()
    remaining = statement["timeout_seconds"] - elapsed
    description: dict[str, Any] | None = None
    for wait_seconds in policy.long_poll_plan(remaining):
        if remaining_ms is not None and remaining_ms < (wait_seconds + 10) * 1000:
            break
        description = describe(client, statement["id"], wait_seconds)
        if not is_running(str(description.get("Status"))):
            break
        if remaining_ms is not None:
            remaining_ms -= wait_seconds * 1000
    if description is None:
        description = describe(client, statement["id"])
    return _statement_state(
        client,
        policy,
        description,
        step=statement["step"],
        submitted_at=statement["submitted_at"],
        timeout_seconds=int(statement["timeout_seconds"]),
        elapsed=elapsed,
        expect=statement.get("expect"),
        attempt=int(statement.get("attempt", 1)),
    )


def cancel_running_statements(client: RedshiftDataAPIServiceClient, *, execution_name: str) -> list[str]:
    """Cancel every statement of the execution that is still running; the ids of those cancelled.

    A failed step ends its stage's Map, but Step Functions does not stop the statements the other
    steps submitted: they would run on, and commit, after the run reported its failure. The step
    statements are named ``<execution name>.<step>`` and ListStatements matches names by prefix.
    """
    prefix = statement_name(execution_name, "")
    cancelled = []
    pages = client.get_paginator("list_statements").paginate(
        StatementName=prefix, Status="ALL", RoleLevel=True
    )
    try:
        summaries = [summary for page in pages for summary in page.get("Statements", [])]
    except ClientError as err:
        raise data_api_error("ListStatements", err) from err
    for summary in summaries:
        if is_running(str(summary.get("Status"))) and cancel(client, str(summary["Id"])):
            cancelled.append(str(summary["Id"]))
    return cancelled


def cancel_step(client: RedshiftDataAPIServiceClient, *, statement: Mapping[str, Any]) -> dict[str, Any]:
    """Cancel a statement that ran past its step's time budget; returns the failure cause."""
    cancelled = cancel(client, statement["id"])
    error = (
        f"statement ran longer than the step's time budget of {statement['timeout_seconds']} s "
        f"and was {'cancelled' if cancelled else 'already ending when cancelled'}"
    )
    return {
        "cancelled": cancelled,
        "cause": failure_cause(statement["step"], statement["id"], TIMED_OUT, error),
    }


MAX_ERROR_BYTES = 8 * 1024
"""Most UTF-8 bytes of the error a failure cause carries.

The cause rides in state data, which Step Functions limits to 256 KiB (States.DataLimitExceeded, which
no Catch of States.ALL sees: the run would end without its Pipeline Failed event); a database error
that lists rejected rows has no bound of its own.
"""


def failure_cause(step: str, statement_id: str | None, error_type: str, error: str) -> str:
    """The JSON ``Cause`` a failed step hands to the state machine's Fail state; ``error`` is capped."""
    return json.dumps(
        {"step": step, "statement_id": statement_id, "error_type": error_type, "error": capped(error)}
    )


def capped(text: str, max_bytes: int = MAX_ERROR_BYTES) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (marker included), on a character boundary."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    marker = f" ... [cut: {len(encoded)} bytes in all]"
    kept = encoded[: max_bytes - len(marker.encode())].decode("utf-8", "ignore")
    return kept + marker


def _data_check_failure(client: RedshiftDataAPIServiceClient, statement_id: str) -> str | None:
    """Why a ``no_rows`` data check failed (the rows it found), or ``None`` when it passed."""
    columns, rows = fetch_rows(client, statement_id, REPORTED_ROWS)
    if not rows:
        return None
    shown = "; ".join(", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=False)) for row in rows)
    more = " (first rows shown)" if len(rows) == REPORTED_ROWS else ""
    return f"data check expected no rows but found: {shown}{more}"


def _statement_state(
    client: RedshiftDataAPIServiceClient,
    policy: PollPolicy,
    description: Mapping[str, Any],
    *,
    step: str,
    submitted_at: str,
    timeout_seconds: int,
    elapsed: float,
    expect: str | None,
    attempt: int,
) -> dict[str, Any]:
    """The statement state the state machine keeps; ``status`` is the Data API's, except that a
    data check which finds rows reports FAILED.

    ``retry`` is true for a statement that failed with a serialization failure while
    submissions remain: its transaction rolled back, so the step is submitted again after
    ``wait_seconds``.
    """
    status = str(description.get("Status", ""))
    statement_id = str(description["Id"])
    remaining = timeout_seconds - elapsed
    running = is_running(status)
    cause = None
    retry = False
    wait_seconds = policy.wait_seconds(elapsed, remaining)
    if status == FINISHED and expect == EXPECT_NO_ROWS and description.get("HasResultSet"):
        check_failure = _data_check_failure(client, statement_id)
        if check_failure:
            status = FAILED
            cause = failure_cause(step, statement_id, CHECK_FAILED, check_failure)
    elif status in (FAILED, ABORTED):
        error = statement_error(description) or f"statement {status} without an error message"
        if attempt > 1:
            error = f"{error} (submission {attempt} of {policy.resubmit_attempts})"
        cause = failure_cause(step, statement_id, status, error)
        retry = status == FAILED and is_serialization_failure(error) and attempt < policy.resubmit_attempts
        if retry:
            wait_seconds = policy.resubmit_wait_seconds(attempt)
    elif not running and status != FINISHED:
        known = "" if is_known_status(status) else " (not a status the Data API documents)"
        cause = failure_cause(step, statement_id, UNKNOWN_STATUS, f"statement has status {status!r}{known}")
    return {
        "step": step,
        "id": statement_id,
        "status": status,
        "result_rows": description.get("ResultRows"),
        "submitted_at": submitted_at,
        "timeout_seconds": timeout_seconds,
        "elapsed_seconds": int(elapsed),
        "timed_out": running and remaining <= 0,
        "wait_seconds": wait_seconds,
        "expect": expect,
        "cause": cause,
        "attempt": attempt,
        "retry": retry,
    }
