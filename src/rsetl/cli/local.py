"""`rsetl local ...`: run the SAM application on this machine and talk to the running runtime.

`up`'s first steps, before the runtime is imported, are in `rsetl.cli.up`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rsetl.cli.client import LocalClients
from rsetl.cli.up import UsageError

if TYPE_CHECKING:
    from rsetl.postgres import StartingServer
    from rsetl.runtime import LocalRuntime, RuntimeOptions
    from rsetl.template import LocalTemplate


class PipeConsole(Console):
    """A console whose closed pipe reaches `main` as BrokenPipeError (rich would exit with 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


console = PipeConsole()
errors = PipeConsole(stderr=True)

TERMINAL_STATUSES = {"FINISHED", "FAILED", "ABORTED"}


def serve(
    template: LocalTemplate,
    options: RuntimeOptions,
    postgres: StartingServer | None,
    stop: threading.Event,
) -> int:
    """Start the runtime (with `postgres`, already starting) and serve until `stop` is set.

    On a signal it stops accepting requests, gives running statements `options.stop_grace_seconds`,
    cancels what is left, and exits; what the runtime notices while it runs (a PostgreSQL restart) is
    logged.
    """
    from rsetl.runtime import LocalRuntime

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        runtime = LocalRuntime(options, template)
    except BaseException:
        if postgres is not None:
            postgres.stop()
        raise
    try:
        runtime.start(lambda line: errors.print(f"[dim]{escape(line)}[/dim]"), postgres)
    except BaseException:
        # What started before the failure (PostgreSQL above all) must not outlive `up`.
        runtime.stop()
        raise
    try:
        runtime.write_endpoint()
        print_startup_problems(runtime, errors)
        created = ", ".join(
            f"{len(ids)} {kind.split('::')[-1]}" for kind, ids in runtime.report.created.items()
        )
        console.print(
            f"rsetl local endpoint ready at {runtime.url} ({created}); run page {runtime.console_url}; "
            f"state in {options.state_dir}",
            soft_wrap=True,
        )
        stop.wait()
    finally:
        errors.print("[dim]stopping[/dim]")
        runtime.stop()
    return 0


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def print_startup_problems(runtime: LocalRuntime, out: Console) -> None:
    """What start-up found that AWS would do differently: resources it cannot run, warnings (a
    Runtime other than the local interpreter), functions whose handler cannot be imported, and what
    the last run left unfinished (executions restarted, deliveries made again, S3 notifications sent)."""
    for restart in runtime.recovery.restarted:
        if restart.error is not None:
            out.print(
                f"[red]not restarted:[/red] {escape(restart.interrupted)} was RUNNING when the runtime "
                f"stopped and could not be started again: {escape(restart.error)}",
                soft_wrap=True,
            )
            continue
        again = f"started again as {restart.restarted_as}" if restart.restarted_as else "not restarted"
        out.print(
            f"[yellow]restarted:[/yellow] {escape(restart.interrupted)} was RUNNING when the runtime "
            f"stopped; {escape(again)}",
            soft_wrap=True,
        )
    for delivery in runtime.recovery.redelivered:
        out.print(
            f"[yellow]redelivered:[/yellow] event {escape(delivery.event_id)} ({escape(delivery.source)}) to "
            f"{escape(delivery.target_arn)}: its delivery had not ended when the runtime stopped",
            soft_wrap=True,
        )
    notified = runtime.recovery.notified
    if notified:
        out.print(
            f"[yellow]notified:[/yellow] {len(notified)} S3 notifications sent after a stop (objects stored "
            f"before it, their events not yet journaled): "
            + ", ".join(escape(notification.describe()) for notification in notified),
            soft_wrap=True,
        )
    for missed in runtime.recovery.missed:
        count = f"{missed.count}{'+' if missed.more else ''} time{'s' if missed.count != 1 else ''}"
        span = _utc(missed.first) if missed.count == 1 else f"{_utc(missed.first)} to {_utc(missed.last)}"
        out.print(
            f"[yellow]missed:[/yellow] {escape(missed.schedule_arn)} fell due {count} while the runtime was "
            f"down ({span}); not fired late, as EventBridge fires no past instant",
            soft_wrap=True,
        )
    for missing in runtime.report.not_emulated:
        out.print(f"[yellow]not emulated locally:[/yellow] {escape(missing)}")
    assert runtime.lambdas is not None
    for warning in runtime.lambdas.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    for name, error in runtime.function_errors.items():
        detail = escape(f"{error['errorType']}: {error['errorMessage']}")
        out.print(f"[red]function {name} cannot start:[/red] {detail}", soft_wrap=True)


def put(clients: LocalClients, file: Path, uri: str) -> int:
    bucket, key = parse_s3_uri(uri)
    if not file.is_file():
        raise UsageError(f"{file} is not a file")
    try:
        with file.open("rb"):
            pass
    except OSError as error:
        raise UsageError(f"{file}: {error.strerror}") from None
    clients.client("s3").upload_file(str(file), bucket, key)
    console.print(escape(f"uploaded {file} to s3://{bucket}/{key}"), soft_wrap=True)
    return 0


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise UsageError(f"{uri!r} needs both a bucket and a key: s3://bucket/key")
    return bucket, key


def start(clients: LocalClients, pipeline: str, input_text: str | None, name: str | None, wait: bool) -> int:
    try:
        parameters = json.loads(input_text) if input_text else {}
    except ValueError as error:
        raise UsageError(f"--input is not JSON: {error}") from None
    if not isinstance(parameters, dict):
        raise UsageError("--input must be a JSON object of pipeline parameters")
    sfn = clients.client("stepfunctions")
    request: dict[str, Any] = {
        "stateMachineArn": clients.pipeline_machine_arn(),
        "input": json.dumps({"pipeline": pipeline, "parameters": parameters}),
    }
    if name:
        request["name"] = name
    arn = sfn.start_execution(**request)["executionArn"]
    console.print(escape(f"started {arn}"), soft_wrap=True)
    if not wait:
        return 0
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.2)
    console.print(
        escape(f"{described['status']}: {described.get('output') or described.get('cause', '')}"),
        soft_wrap=True,
    )
    return 0 if described["status"] == "SUCCEEDED" else 1


def executions(clients: LocalClients) -> int:
    sfn = clients.client("stepfunctions")
    table = Table("execution", "pipeline", "status", "started", "duration")
    for machine_arn in clients.info.state_machines.values():
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
            for summary in page["executions"]:
                described = sfn.describe_execution(executionArn=summary["executionArn"])
                pipeline = json.loads(described.get("input") or "{}").get("pipeline", "")
                table.add_row(
                    escape(summary["name"]), escape(str(pipeline)), _status(summary["status"]),
                    summary["startDate"].isoformat(timespec="seconds"),
                    _duration(summary["startDate"], summary.get("stopDate")),
                )  # fmt: skip
    console.print(table)
    return 0


def execution(clients: LocalClients, name: str) -> int:
    sfn = clients.client("stepfunctions")
    arn = _execution_arn(clients, name)
    described = sfn.describe_execution(executionArn=arn)
    console.print(f"{escape(described['name'])}: {_status(described['status'])}")
    if described.get("error"):
        console.print(f"[red]{escape(described['error'])}[/red]: {escape(described.get('cause', ''))}")
    table = Table("state", "type", "entered", "duration", "result")
    entered: dict[str, tuple[datetime, str]] = {}
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                entered[details["name"]] = (event["timestamp"], kind.removesuffix("StateEntered"))
            elif kind.endswith("StateExited"):
                state = event["stateExitedEventDetails"]["name"]
                started, state_type = entered.pop(state, (event["timestamp"], ""))
                table.add_row(
                    escape(state), state_type, started.isoformat(timespec="milliseconds"),
                    _duration(started, event["timestamp"]), "exited",
                )  # fmt: skip
            elif kind.endswith("Failed") and "StateMachine" not in kind:
                table.add_row(
                    "", kind, event["timestamp"].isoformat(timespec="milliseconds"), "", "[red]failed[/red]"
                )
    console.print(table)
    return 0 if described["status"] in ("SUCCEEDED", "RUNNING") else 1


def events(clients: LocalClients, limit: int) -> int:
    listed = clients.admin("ListEvents")["Events"][-limit:]
    table = Table("time", "bus", "source", "detail-type", "about", "deliveries")
    for event in listed:
        detail = event["detail"] or {}
        about = detail.get("pipeline") or (detail.get("object") or {}).get("key") or ""
        delivered = ", ".join(delivery_text(d) for d in event["deliveries"]) or "-"
        cells = (event["time"], event["bus"], event["source"], event["detailType"], str(about), delivered)
        table.add_row(*(escape(str(cell)) for cell in cells))
    console.print(table)
    return 0


def delivery_text(delivery: dict[str, Any]) -> str:
    """`STATUS (attempts)`, and for an asynchronously invoked function what became of the event."""
    text = f"{delivery['status']} ({delivery['attempts']})"
    if delivery.get("redeliveries"):
        text += f", redelivered {delivery['redeliveries']}x after a stop"
    invocation = delivery.get("invocation")
    if invocation and invocation["status"] != "SUCCEEDED":
        where = f" to {invocation['destination']}" if invocation.get("destination") else ""
        text += f": {invocation['status']}{where} after {invocation['attempts']} function attempt(s)"
    return text


def sql(clients: LocalClients, text: str, database: str) -> int:
    data = clients.client("redshift-data")
    statement_id = data.execute_statement(
        Sql=text, Database=database, WorkgroupName="local", WaitTimeSeconds=30
    )["Id"]
    while True:
        described = data.describe_statement(Id=statement_id, WaitTimeSeconds=30)
        if described["Status"] in TERMINAL_STATUSES:
            break
    if described["Status"] != "FINISHED":
        errors.print(
            f"[red]{described['Status']}[/red]: {escape(' '.join(described.get('Error', '').split()))}",
            soft_wrap=True,
        )
        return 1
    if not described.get("HasResultSet"):
        console.print(f"OK, {described.get('ResultRows', 0)} row(s) affected")
        return 0
    table: Table | None = None
    for page in data.get_paginator("get_statement_result").paginate(Id=statement_id):
        if table is None:
            table = Table(*[escape(column["name"]) for column in page["ColumnMetadata"]])
        for record in page["Records"]:
            table.add_row(*[escape(_field_text(field)) for field in record])
    console.print(table)
    return 0


def _field_text(field: dict[str, Any]) -> str:
    if field.get("isNull"):
        return "NULL"
    return str(next(iter(field.values())))


def _execution_arn(clients: LocalClients, name: str) -> str:
    if name.startswith("arn:"):
        return name
    machine_arn = clients.pipeline_machine_arn()
    return machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def _status(status: str) -> str:
    status = escape(status)
    colour = {"SUCCEEDED": "green", "FAILED": "red", "RUNNING": "cyan"}.get(status, "yellow")
    return f"[{colour}]{status}[/{colour}]"


def _duration(started: datetime, stopped: datetime | None) -> str:
    if stopped is None:
        return "-"
    return f"{(stopped - started).total_seconds():.3f}s"
