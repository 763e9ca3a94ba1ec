"""The `rsetl` command line."""

from __future__ import annotations

import argparse
import sys

from rsetl import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rsetl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rsetl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the SAM application on this machine")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    local_commands.add_parser("demo", help="run the demo pipeline end to end on fresh local state")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "local" and args.local_command == "demo":
        print("rsetl local demo: the local runtime is not built yet (see the open issues).", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
