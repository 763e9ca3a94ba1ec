"""The `rsetl` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from rsetl import __version__
from rsetl.lambdas import LambdaRuntimeError
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, ISOLATION_LEVELS
from rsetl.runtime.state import DEFAULT_STATE_DIR, NoRuntimeRunning
from rsetl.template import TemplateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rsetl", description="Event-driven ETL for Amazon Redshift.")
    parser.add_argument("--version", action="version", version=f"rsetl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the SAM application on this machine")
    local.add_argument(
        "--state-dir",
        type=Path,
        help=f"local state (default {DEFAULT_STATE_DIR}; for the demo <project>/.rsetl/demo, wiped first)",
    )
    sub = local.add_subparsers(dest="local_command", required=True)

    up = sub.add_parser("up", help="serve every local service on one 127.0.0.1 port until Ctrl-C")
    up.add_argument("--port", type=int, default=4566)
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
        "--stop-grace-seconds", type=float, default=10.0,
        help="on SIGTERM or Ctrl-C, how long running SQL statements may go on before they are cancelled",
    )  # fmt: skip
    _isolation_option(up)

    demo = sub.add_parser("demo", help="run the demo pipeline end to end on fresh local state")
    demo.add_argument("--project-dir", type=Path, default=Path.cwd())
    demo.add_argument("--sample-dir", type=Path, help="sample data (default: <project>/sample_data)")
    _isolation_option(demo)

    put = sub.add_parser("put", help="upload a file to the local S3")
    put.add_argument("file", type=Path)
    put.add_argument("uri", help="s3://bucket/key")

    start = sub.add_parser("start", help="start a pipeline run by hand")
    start.add_argument("pipeline")
    start.add_argument("--input", help="pipeline parameters as a JSON object")
    start.add_argument("--name", help="execution name (unique per state machine)")
    start.add_argument("--wait", action="store_true", help="wait for the run to end")

    sub.add_parser("executions", help="list executions")
    execution = sub.add_parser("execution", help="one execution's history with per-state timings")
    execution.add_argument("name")
    events = sub.add_parser("events", help="events put on the local buses and their deliveries")
    events.add_argument("--limit", type=int, default=50)
    sql = sub.add_parser("sql", help="run SQL through the local Redshift Data API")
    sql.add_argument("text")
    sql.add_argument("--database", default="dev")
    return parser


def _isolation_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolation-level",
        choices=list(ISOLATION_LEVELS),
        default=DEFAULT_ISOLATION_LEVEL,
        type=str.upper,
        help=f"the dev database's Redshift isolation level (default {DEFAULT_ISOLATION_LEVEL})",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rsetl.cli import local
    from rsetl.cli.client import LocalClients

    state_dir: Path = args.state_dir or DEFAULT_STATE_DIR
    try:
        match args.local_command:
            case "up":
                return local.up(
                    args.project_dir, state_dir, args.port, args.parameter_overrides, args.database_url,
                    args.database_secret,
                    args.isolation_level,
                    args.config_env,
                    args.stop_grace_seconds,
                )  # fmt: skip
            case "demo":
                from rsetl.cli.demo import run_demo

                sample_dir = args.sample_dir or args.project_dir / "sample_data"
                return run_demo(
                    args.project_dir,
                    sample_dir,
                    state_dir=args.state_dir,
                    isolation_level=args.isolation_level,
                )
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
    except (NoRuntimeRunning, TemplateError, LambdaRuntimeError, local.UsageError) as error:
        print(f"rsetl: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"rsetl: the local endpoint answered: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
