"""Parameter values from `samconfig.toml`, as `sam deploy` reads them."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

from rsetl.template.exceptions import TemplateError


def parse_parameter_overrides(value: str | list[str]) -> dict[str, str]:
    """Parse `Key=Value Key2="v w"` (a string or a list of such strings) into a dict."""
    items = shlex.split(value) if isinstance(value, str) else [part for v in value for part in shlex.split(v)]
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise TemplateError(f"parameter override {item!r} is not of the form Key=Value")
        overrides[key] = val
    return overrides


def read_samconfig(path: Path, environment: str = "default") -> dict[str, Any]:
    """The deploy settings of `environment` (global parameters merged under deploy's).

    A named environment other than `default` must exist, as `sam deploy --config-env NAME` needs it.
    """
    if not path.exists():
        return {}
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{path}: {error}") from None
    if environment != "default" and environment not in config:
        raise TemplateError(
            f"{path}: no [{environment}] config environment (e.g. [{environment}.deploy.parameters])"
        )
    env = config.get(environment, {})
    merged: dict[str, Any] = {}
    for section in ("global", "deploy"):
        merged.update(env.get(section, {}).get("parameters", {}))
    return merged


def samconfig_parameters(path: Path, environment: str = "default") -> tuple[str | None, dict[str, str]]:
    """Stack name and parameter overrides from samconfig.toml."""
    settings = read_samconfig(path, environment)
    overrides = settings.get("parameter_overrides")
    return settings.get("stack_name"), parse_parameter_overrides(overrides) if overrides else {}
