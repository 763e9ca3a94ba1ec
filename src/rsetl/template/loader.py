"""Reads `template.yaml` through aws-sam-translator, offline, into a :class:`LocalTemplate`."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from samtranslator import __version__ as SAM_TRANSLATOR_VERSION
from samtranslator.yaml_helper import intrinsics_multi_constructor

from rsetl.cache import user_cache_dir
from rsetl.template.exceptions import TemplateError
from rsetl.template.intrinsics import Resolver
from rsetl.template.model import LocalResource, LocalTemplate
from rsetl.template.naming import Place
from rsetl.template.parameters import parameter_values, typed_value
from rsetl.template.rules import RuleEvaluator
from rsetl.template.samconfig import samconfig_parameters

LOCAL_ARTIFACT_BUCKET = "rsetl-local-artifacts"
"""Stands for `sam package`'s bucket: local code paths ride through the transform as keys in it."""


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe YAML loader that reads CloudFormation's short forms (`!Ref`, `!Sub`...) as the SAM CLI
    does; libyaml's when PyYAML has it (ten times faster on the template than the Python one)."""


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)

_LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


def load_template(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    samconfig: Path | None = None,
    config_env: str = "default",
    stack_name: str | None = None,
    account_id: str = "000000000000",
    region: str = "us-east-1",
) -> LocalTemplate:
    """Transform and resolve a SAM template; parameters come from samconfig.toml, then the overrides.

    The parameters are checked against their constraints and the template's `Rules` before the
    transform, as `sam deploy` has CloudFormation do before it creates the change set.
    """
    path = path.resolve()
    try:
        sam = yaml.load(path.read_text(), Loader=_TemplateLoader)
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"{path}: cannot read the template: {error}") from None
    if not isinstance(sam, dict) or "Resources" not in sam:
        raise TemplateError(f"{path}: not a SAM/CloudFormation template (no Resources)")
    config_stack, config_params = samconfig_parameters(
        samconfig or path.parent / "samconfig.toml", config_env
    )
    stack = stack_name or config_stack or path.parent.name
    declared: dict[str, Any] = sam.get("Parameters", {}) or {}
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack,
        "AWS::Partition": "aws",
    }
    try:
        parameters = parameter_values(declared, {**config_params, **(parameter_overrides or {})})
        typed = {name: typed_value(declared[name], value) for name, value in parameters.items()}
        RuleEvaluator(declared, typed, pseudo).check(sam.get("Rules") or {})
    except TemplateError as error:
        raise type(error)(f"{path}: {error}") from None
    local_paths, artifact_metadata = _inline_local_artifacts(sam, path.parent)
    try:
        cfn = _transformed(sam, {**parameters, **pseudo}, region)
    except Exception as error:
        raise TemplateError(f"{path}: the SAM transform failed: {error}") from None
    place = Place(stack, account_id, region)
    resolver = Resolver(cfn, typed, place)
    template = LocalTemplate(path, stack, account_id, region, parameters)
    for logical_id, resource in cfn.get("Resources", {}).items():
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        props = resolver.resolve(resource.get("Properties", {}) or {}, f"Resources.{logical_id}.Properties")
        ref, attributes = resolver.identity(logical_id)
        key = _local_artifact_key(props)
        metadata = resource.get("Metadata") or artifact_metadata.get(key or "") or {}
        local_path = local_paths.get(key) if key else None
        template.resources[logical_id] = LocalResource(
            logical_id, resource["Type"], props, ref, attributes, local_path, metadata
        )
    template.outputs = {
        name: resolver.resolve(output.get("Value"), f"Outputs.{name}")
        for name, output in cfn.get("Outputs", {}).items()
        if not output.get("Condition") or resolver.condition(output["Condition"])
    }
    return template


def _transformed(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """The SAM transform of `sam`, cached in the user's cache folder by its input and the translator's
    version: the transform is a pure function of them, and it and its imports take a second or more."""
    stamp = json.dumps([SAM_TRANSLATOR_VERSION, region, parameters, sam], sort_keys=True, default=repr)
    cached = user_cache_dir() / "sam-transform" / f"{hashlib.sha256(stamp.encode()).hexdigest()}.json"
    try:
        found: dict[str, Any] = json.loads(cached.read_text())
        return found
    except (OSError, ValueError):
        pass
    cfn = _translate(sam, parameters, region)
    text = json.dumps(cfn, sort_keys=True)
    if json.loads(text) == cfn:  # only what JSON holds as it is
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cached.parent, delete=False, suffix=".tmp") as scratch:
            scratch.write(text)
        os.replace(scratch.name, cached)
    return cfn


def _translate(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    # Imported here: the translator and its models take most of a second to import, and a cached
    # transform does not need them.
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator

    # The transform asks boto3 for the region unless told; locally the region is ours to give.
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=region))
    cfn: dict[str, Any] = translator.translate(sam, parameters, get_managed_policy_map=dict)
    return cfn


def _inline_local_artifacts(
    sam: dict[str, Any], base: Path
) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """Point local CodeUri/ContentUri at the fake artifact bucket and inline DefinitionUri files.

    Returns the local folder and the SAM `Metadata` of each artifact key: the key names the resource
    (`<LogicalId>/<uri>`), because the transform renames layers and drops their Metadata, which
    `sam build` reads (`BuildMethod`).
    """
    local_paths: dict[str, Path] = {}
    metadata: dict[str, dict[str, Any]] = {}
    globals_function = (sam.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in sam["Resources"].items():
        props = resource.setdefault("Properties", {}) or {}
        resource["Properties"] = props
        key = _LOCAL_URI_PROPERTIES.get(resource.get("Type", ""))
        if key:
            uri = props.get(key, globals_function.get("CodeUri") if key == "CodeUri" else None)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                folder = (base / uri).resolve()
                if not folder.is_dir():
                    raise TemplateError(f"Resources.{logical_id}.Properties.{key}: {uri!r} is not a folder")
                artifact_key = f"{logical_id}/{uri}"
                local_paths[artifact_key] = folder
                metadata[artifact_key] = resource.get("Metadata") or {}
                props[key] = f"s3://{LOCAL_ARTIFACT_BUCKET}/{artifact_key}"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(
            props.get("DefinitionUri"), str
        ):
            definition_path = base / props.pop("DefinitionUri")
            try:
                text = definition_path.read_text()
                props["Definition"] = (
                    json.loads(text) if definition_path.suffix == ".json" else yaml.safe_load(text)
                )
            except (OSError, ValueError, yaml.YAMLError) as error:
                raise TemplateError(f"Resources.{logical_id}.Properties.DefinitionUri: {error}") from None
    return local_paths, metadata


def _local_artifact_key(props: Mapping[str, Any]) -> str | None:
    for key in ("Code", "Content"):
        location = props.get(key)
        if isinstance(location, dict) and location.get("S3Bucket") == LOCAL_ARTIFACT_BUCKET:
            return str(location.get("S3Key"))
    return None


def state_machine_definition(resource: LocalResource) -> dict[str, Any]:
    """The ASL of an AWS::StepFunctions::StateMachine with its DefinitionSubstitutions applied."""
    props = resource.properties
    definition = props.get("Definition")
    text = json.dumps(definition) if definition is not None else props.get("DefinitionString")
    if not isinstance(text, str):
        raise TemplateError(f"{resource.logical_id}: the state machine has no definition")
    substitutions = props.get("DefinitionSubstitutions") or {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise TemplateError(f"{resource.logical_id}: ${{{name}}} has no DefinitionSubstitutions entry")
        # The value lands inside a JSON string: escape it as JSON would.
        return json.dumps(str(substitutions[name]))[1:-1]

    resolved = re.sub(r"\$\{([A-Za-z0-9_]+)\}", substitute, text)
    return copy.deepcopy(json.loads(resolved))
