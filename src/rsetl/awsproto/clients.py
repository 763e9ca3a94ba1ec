"""The one factory of the boto3 clients that call the local endpoint (the runtime's, the CLI's, tasks')."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from rsetl.awsproto.sigv4 import DEFAULT_CREDENTIALS

LOCAL_KEYS: tuple[str, str] = next(iter(DEFAULT_CREDENTIALS.items()))
"""The access key and secret a local endpoint accepts when it is given no credentials of its own."""

_LOCAL = Config(inject_host_prefix=False)
"""Host prefixes stay off: StartSyncExecution's `sync-` would make `sync-127.0.0.1`, which resolves
nowhere."""


def local_client(
    service: str,
    endpoint_url: str | None,
    region: str,
    access_key: str,
    secret_key: str,
    config: Config | None = None,
) -> Any:
    """A boto3 client of `service` at `endpoint_url` (AWS's own endpoint when None), signed with these
    keys; `config` adds to the local defaults (retries, timeouts)."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=_LOCAL.merge(config) if config is not None else _LOCAL,
    )
