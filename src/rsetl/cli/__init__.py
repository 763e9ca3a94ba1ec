"""The `rsetl` command line.

A verb imports what it needs when it runs: `up` starts PostgreSQL before the runtime's imports, and
the client verbs never import the runtime.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from rsetl import __version__
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, ISOLATION_LEVELS
from rsetl.redshift_data.config import STATEMENT_WORKERS
from rsetl.runtime.state import DEFAULT_STATE_DIR

STATE_DIR_HELP = (
    f"local state (default {DEFAULT_STATE_DIR}; for the demo <project>/.rsetl/demo, wiped first); "
    "before or after the command name"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rsetl", description="Event-driven ETL for Amazon Redshift.")
    parser.add_argument("--version", action="version", version=f"rsetl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    pipelines = commands.add_parser(
        "pipelines", help="list every pipeline with its triggers and downstream links (from template.yaml)"
    )
    pipelines.add_argument("--project-dir", type=Path, default=Path.cwd(), help="folder of template.yaml")
    local = commands.add_parser("local", help="run the SAM application on this machine")
    local.add_argument("--state-dir", type=Path, help=STATE_DIR_HELP)
    # The same option after the verb (`rsetl local up --state-dir D`), as the CLI's hints write it;
    # SUPPRESS keeps the verb's parser from overwriting one given before the verb.
    verb_options = argparse.ArgumentParser(add_help=False)
    verb_options.add_argument(
        "--state-dir", type=Path, dest="verb_state_dir", default=argparse.SUPPRESS, help=STATE_DIR_HELP
    )
    sub = local.add_subparsers(dest="local_command", required=True)

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[verb_options])

    up = verb("up", "serve every local service on one 127.0.0.1 port until Ctrl-C")
    up.add_argument("--port", type=_port, default=4566, help="127.0.0.1 port to serve (0: any free one)")
    up.add_argument("--project-dir", type=Path, default=Path.cwd(), help="folder of template.yaml")
    up.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    up.add_argument(
        "--config-env", default="local", help="samconfig.toml config environment to read (default local)"
    )
    up.add_argument("--database-url", help="an external postgresql:// URL instead of the embedded server")
    up.add_argument(
        "--database-secret",
        nargs="*",
        default=[],
        metavar="SECRET_ARN=USER",
        help="the database user a SecretArn stands for (no Secrets Manager runs locally)",
    )
    up.add_argument(
        "--credentials",
        nargs="+",
        default=[],
        metavar="ACCESS_KEY=SECRET",
        help="the local principals' access keys, instead of test=test (the first is the CLI's own)",
    )
    up.add_argument(
        "--credentials-file",
        type=Path,
        help="an AWS shared credentials file: each profile's keys are one more local principal",
    )
    up.add_argument(
        "--stop-grace-seconds", type=float, default=10.0,
        help="on SIGTERM or Ctrl-C, how long running SQL statements may go on before they are cancelled",
    )  # fmt: skip
    up.add_argument(
        "--statement-workers", type=_positive, default=STATEMENT_WORKERS, metavar="N",
        help=f"Data API statements that run at once; later ones wait SUBMITTED (default {STATEMENT_WORKERS})",
    )  # fmt: skip
    _isolation_option(up)

    demo = verb("demo", "run the demo pipeline end to end on fresh local state")
    demo.add_argument("--project-dir", type=Path, default=Path.cwd())
    demo.add_argument("--sample-dir", type=Path, help="sample data (default: <project>/sample_data)")
    demo.add_argument(
        "--serve", action="store_true", help="keep serving the run page after the demo, until Ctrl-C"
    )
    demo.add_argument("--port", type=_port, default=0, help="127.0.0.1 port to serve (default: any free one)")
    _isolation_option(demo)

    put = verb("put", "upload a file to the local S3")
    put.add_argument("file", type=Path)
    put.add_argument("uri", help="s3://bucket/key")

    start = verb("start", "start a pipeline run by hand")
    start.add_argument("pipeline")
    start.add_argument("--input", help="pipeline parameters as a JSON object")
    start.add_argument("--name", help="execution name (unique per state machine)")
    start.add_argument("--wait", action="store_true", help="wait for the run to end")

    verb("executions", "list executions")
    execution = verb("execution", "one execution's history with per-state timings")
    execution.add_argument("name")
    events = verb("events", "events put on the local buses and their deliveries")
    events.add_argument("--limit", type=_positive, default=50, help="the last N events (default 50)")
    sql = verb("sql", "run SQL through the local Redshift Data API")
    sql.add_argument("text")
    sql.add_argument("--database", default="dev")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535)")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _isolation_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation-level",
        choices=list(ISOLATION_LEVELS),
        default=DEFAULT_ISOLATION_LEVEL,
        type=str.upper,
        help=f"the dev database's Redshift isolation level (default {DEFAULT_ISOLATION_LEVEL})",
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; its failure is one `rsetl: ...` line on stderr and the documented exit code
    (0 success, 1 run or statement failed or the endpoint answered an error, 2 usage or no runtime,
    141 the reader of its output went away, as for a command SIGPIPE ended)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    before, after = getattr(args, "state_dir", None), getattr(args, "verb_state_dir", None)
    if before is not None and after is not None and before != after:
        parser.error(f"--state-dir is given twice with different folders: {before} and {after}")
    chosen: Path | None = after or before
    try:
        return _run(args, chosen)
    except KeyboardInterrupt:
        print("rsetl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except Exception as error:
        code = _exit_code(error)
        if code is None:
            raise
        prefix = "rsetl: the local endpoint answered: " if code == 1 else "rsetl: "
        print(f"{prefix}{_one_line(error)}", file=sys.stderr)
        return code


def _exit_code(error: Exception) -> int | None:
    """2 for a usage error or a runtime that cannot start or be reached, 1 for an error the endpoint
    answered; None for anything else (a bug: its traceback is shown)."""
    # Imported here: a verb that failed has imported them already, and the others need not.
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    from rsetl.awsproto import PortUnavailable
    from rsetl.cli.client import EndpointError
    from rsetl.cli.up import UsageError
    from rsetl.lambdas import LambdaRuntimeError
    from rsetl.postgres import PostgresError
    from rsetl.runtime.state import NoRuntimeRunning
    from rsetl.template import TemplateError

    usage = (NoRuntimeRunning, TemplateError, LambdaRuntimeError, PostgresError, PortUnavailable, UsageError)
    if isinstance(error, usage):
        return 2
    if isinstance(error, ClientError | BotoCoreError | S3UploadFailedError | EndpointError):
        return 1
    return None


def _reader_gone() -> int:
    """`rsetl local ... | head`: the reader closed the pipe. Stop quietly with the code of a command
    SIGPIPE ended (128 + 13); what is left in stdout's buffer goes to /dev/null, so the flush at
    exit does not fail again (Python's "Note on SIGPIPE",
    https://docs.python.org/3/library/signal.html#note-on-sigpipe). SIGPIPE itself stays ignored,
    so a client hanging up on `up`'s sockets cannot kill it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _run(args: argparse.Namespace, chosen_state_dir: Path | None) -> int:
    if args.command == "pipelines":
        from rsetl.cli.pipelines import list_pipelines

        return list_pipelines(args.project_dir)
    state_dir = chosen_state_dir or DEFAULT_STATE_DIR
    match args.local_command:
        case "up":
            from rsetl.cli import up

            return up.up(
                args.project_dir, state_dir, args.port, args.parameter_overrides, args.database_url,
                args.database_secret,
                args.isolation_level,
                args.config_env,
                credentials=up.parse_credentials(args.credentials, args.credentials_file),
                stop_grace_seconds=args.stop_grace_seconds,
                statement_workers=args.statement_workers,
            )  # fmt: skip
        case "demo":
            from rsetl.cli.demo import run_demo

            sample_dir = args.sample_dir or args.project_dir / "sample_data"
            return run_demo(
                args.project_dir,
                sample_dir,
                state_dir=chosen_state_dir,
                isolation_level=args.isolation_level,
                serve=args.serve,
                port=args.port,
            )
    from rsetl.cli import local
    from rsetl.cli.client import LocalClients

    clients = LocalClients.for_state_dir(state_dir)
    match args.local_command:
        case "put":
            return local.put(clients, args.file, args.uri)
        case "start":
            return local.start(clients, args.pipeline, args.input, args.name, args.wait)
        case "executions":
            return local.executions(clients)
        case "execution":
            return local.execution(clients, args.name)
        case "events":
            return local.events(clients, args.limit)
        case "sql":
            return local.sql(clients, args.text, args.database)
    return 2


def _one_line(error: Exception) -> str:
    """An error's message on one line (psycopg's and botocore's span several)."""
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
