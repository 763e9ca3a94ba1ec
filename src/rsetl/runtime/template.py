"""The template as the local runtime deploys it, loaded before the runtime's own imports."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rsetl.redshift_data.iam import local_workgroup_id
from rsetl.template import LocalTemplate, load_template


def load_local_template(
    project_dir: Path, parameter_overrides: Mapping[str, str], config_env: str = "local"
) -> LocalTemplate:
    """`project_dir/template.yaml`, its parameters and Rules checked (TemplateError otherwise); with a
    Serverless WorkgroupName but no WorkgroupId, the local workgroup's ID fills it in, as a deployer
    copies it from `aws redshift-serverless get-workgroup`."""
    path = project_dir / "template.yaml"
    template = load_template(path, parameter_overrides=parameter_overrides, config_env=config_env)
    parameters = template.parameters
    if parameters.get("WorkgroupName") and "WorkgroupId" in parameters and not parameters["WorkgroupId"]:
        overrides = {**parameter_overrides, "WorkgroupId": local_workgroup_id(parameters["WorkgroupName"])}
        template = load_template(path, parameter_overrides=overrides, config_env=config_env)
    return template
