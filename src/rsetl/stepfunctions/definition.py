"""Loading state machine definitions (Amazon States Language): placeholders, JSON, typed states."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rsetl.stepfunctions.build import build_program
from rsetl.stepfunctions.exceptions import DefinitionError
from rsetl.stepfunctions.states import Program

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def substitute(text: str, substitutions: Mapping[str, Any]) -> str:
    """Fill `${Name}` placeholders as DefinitionSubstitutions does; unknown names are an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise DefinitionError(f"No DefinitionSubstitutions value for placeholder ${{{name}}}", "$")
        return str(substitutions[name])

    return _PLACEHOLDER.sub(replace, text)


def parse_definition(
    text: str, substitutions: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], Program]:
    """A definition as JSON and as typed states, its placeholders filled first when given."""
    if substitutions is not None:
        text = substitute(text, substitutions)
    try:
        definition = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"The definition is not valid JSON: {exc}") from None
    return definition, build_program(definition)


def load_definition(text: str, substitutions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parse and validate a definition, filling placeholders first when given."""
    return parse_definition(text, substitutions)[0]


def validate_definition(definition: Any, where: str = "$") -> None:
    """Raise DefinitionError naming the first problem found in a (sub-)machine definition."""
    build_program(definition, where)
