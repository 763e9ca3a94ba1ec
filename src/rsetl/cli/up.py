"""`rsetl local up`'s first steps, before the runtime's imports: the arguments and the template's checks,
then the state dir's lock, and PostgreSQL's start, which goes on while the runtime is imported."""

from __future__ import annotations

import configparser
import re
import signal
import sys
import threading
from pathlib import Path

from rsetl.awsproto import DEFAULT_CREDENTIALS, ensure_port_free
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, StartingServer
from rsetl.redshift_data.config import STATEMENT_WORKERS
from rsetl.runtime.state import StateDirInUse, hold_state_dir
from rsetl.runtime.template import load_local_template
from rsetl.template import parse_parameter_overrides


class UsageError(Exception):
    """Wrong arguments: the message says which and how to fix it."""


def parse_database_secrets(items: list[str]) -> dict[str, str]:
    """`SECRET_ARN=USER` pairs: the database user each local secret stands for."""
    secrets = {}
    for item in items:
        arn, sep, user = item.rpartition("=")
        if not sep or not arn.startswith("arn:") or not user:
            raise UsageError(f"--database-secret {item!r} is not of the form SECRET_ARN=USER")
        secrets[arn] = user
    return secrets


def parse_credentials(items: list[str], credentials_file: Path | None = None) -> dict[str, str]:
    """The local principals' keys: `ACCESS_KEY=SECRET` items, then the profiles of an AWS shared
    credentials file; `test=test` when neither is given. The first is the one the CLI signs with."""
    pairs: list[tuple[str, str, str]] = []
    for item in items:
        key, sep, secret = item.partition("=")
        pairs.append((key, secret if sep else "", f"--credentials {item!r}"))
    if credentials_file is not None:
        pairs.extend(_credentials_file_pairs(credentials_file))
    if not pairs:
        return dict(DEFAULT_CREDENTIALS)
    credentials: dict[str, str] = {}
    for key, secret, where in pairs:
        if not ACCESS_KEY_PATTERN.fullmatch(key) or not secret or any(c.isspace() for c in secret):
            raise UsageError(
                f"{where} is not ACCESS_KEY=SECRET (an access key of letters, digits and _, a secret "
                "without spaces)"
            )
        if credentials.get(key, secret) != secret:
            raise UsageError(f"{where}: access key {key} is given twice with different secrets")
        credentials[key] = secret
    return credentials


ACCESS_KEY_PATTERN = re.compile(r"\w+")
r"""IAM's pattern for an access key id (AccessKeyMetadata.AccessKeyId: `[\w]+`)."""


def _credentials_file_pairs(path: Path) -> list[tuple[str, str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open() as text:
            parser.read_file(text)
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        raise UsageError(f"--credentials-file {path}: {' '.join(str(error).split())}") from None
    pairs = []
    for profile in parser.sections():
        section = parser[profile]
        where = f"--credentials-file {path} [{profile}]"
        if "aws_access_key_id" not in section or "aws_secret_access_key" not in section:
            raise UsageError(f"{where} needs aws_access_key_id and aws_secret_access_key")
        pairs.append((section["aws_access_key_id"], section["aws_secret_access_key"], where))
    if not pairs:
        raise UsageError(f"--credentials-file {path} holds no [profile] with access keys")
    return pairs


def _refuse_unusable_state_dir(state_dir: Path) -> None:
    """Refuse a state dir that is a file (another `up` on it is refused by its lock)."""
    if state_dir.exists() and not state_dir.is_dir():
        raise UsageError(f"--state-dir {state_dir} is a file, not a folder")


def _make_state_dir(state_dir: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--state-dir {state_dir}: {error.strerror}") from None


def up(
    project_dir: Path,
    state_dir: Path,
    port: int,
    overrides: list[str],
    database_url: str | None,
    database_secrets: list[str] | None = None,
    isolation_level: str = DEFAULT_ISOLATION_LEVEL,
    config_env: str = "local",
    credentials: dict[str, str] | None = None,
    stop_grace_seconds: float = 10.0,
    statement_workers: int = STATEMENT_WORKERS,
) -> int:
    """Serve the local endpoint until SIGINT or SIGTERM (`rsetl.cli.local.serve`).

    Parameters failing their checks (the template's Rules among them) stop it before the state dir is
    made; a state dir another `up` serves, or a port in use, before PostgreSQL starts.
    """
    _refuse_unusable_state_dir(state_dir)
    parameter_overrides = parse_parameter_overrides(overrides)
    secrets = parse_database_secrets(database_secrets or [])
    template = load_local_template(project_dir, parameter_overrides, config_env)
    _make_state_dir(state_dir)
    try:
        held = hold_state_dir(state_dir)
    except StateDirInUse as in_use:
        print(f"rsetl: {in_use}", file=sys.stderr)
        return 2
    try:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        postgres = None
        if database_url is None:
            ensure_port_free(port)
            postgres = StartingServer(state_dir / "postgres")
        try:
            # Imported only now: the runtime's imports take longer than PostgreSQL's start.
            from rsetl.cli.local import serve
            from rsetl.runtime.runtime import RuntimeOptions

            options = RuntimeOptions(
                project_dir=project_dir, state_dir=state_dir, port=port,
                parameter_overrides=parameter_overrides, database_url=database_url, database_secrets=secrets,
                isolation_level=isolation_level, config_env=config_env,
                credentials=credentials or dict(DEFAULT_CREDENTIALS), stop_grace_seconds=stop_grace_seconds,
                statement_workers=statement_workers,
            )  # fmt: skip
        except BaseException:
            if postgres is not None:
                postgres.stop()
            raise
        return serve(template, options, postgres, stop)
    finally:
        held.close()
