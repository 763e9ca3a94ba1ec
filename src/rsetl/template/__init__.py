"""Reading `template.yaml` for the local runtime: SAM transform offline, parameters, intrinsics."""

from __future__ import annotations

from rsetl.template.exceptions import TemplateError
from rsetl.template.loader import load_template, state_machine_definition
from rsetl.template.model import LocalResource, LocalTemplate
from rsetl.template.samconfig import parse_parameter_overrides, samconfig_parameters

__all__ = [
    "LocalResource",
    "LocalTemplate",
    "TemplateError",
    "load_template",
    "parse_parameter_overrides",
    "samconfig_parameters",
    "state_machine_definition",
]
