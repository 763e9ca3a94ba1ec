"""Every pipeline and how it starts, read from `template.yaml` alone: the template is the single
source of wiring.

A pipeline is a spec file in the pipelines layer (the `AWS::Serverless::LayerVersion` whose
`ContentUri` holds `specs/`; a template without one has no pipelines). It starts by a rule whose
target input is `{"pipeline": NAME, "parameters": {...}}`: an S3 `Object Created` rule (key
prefixes), a schedule, or a rule on another pipeline's `Pipeline Succeeded` event (the upstream
pipeline's downstream link). Each rule's
parameters are checked against the spec's: a rule that names an unknown pipeline or parameter, leaves
a required parameter out, or reads `$.detail.parameters.X` of an upstream pipeline that has no `X`
fails with a :class:`WiringError` naming the rule and the parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rsetl.template.exceptions import TemplateError
from rsetl.template.loader import _TemplateLoader

COMPLETION_SOURCE = "rsetl.pipeline"
UPSTREAM_PARAMETER = re.compile(r"^\$\.detail\.parameters\.([A-Za-z_][A-Za-z0-9_]*)$")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


class WiringError(TemplateError):
    """A rule in the template does not fit the pipeline it starts; the message names both."""


@dataclass(frozen=True)
class Trigger:
    """One rule that starts a pipeline."""

    rule: str
    """The rule's logical id (SAM names a state machine event's rule `<machine><event>`)."""
    kind: str
    """`s3` (an upload under a prefix), `schedule`, `pipeline` (another pipeline succeeded) or `event`."""
    parameters: dict[str, str]
    """Run parameter -> where its value comes from: an event path (`$.detail.object.key`) or a literal."""
    prefixes: tuple[str, ...] = ()
    schedule: str | None = None
    """The schedule's expression (a stack parameter's default when the template takes it from one)."""
    upstream: tuple[str, ...] = ()
    bus: str | None = None
    """The bus the rule listens on (None: the account's default bus)."""

    def summary(self) -> str:
        """One line saying when the rule starts its pipeline."""
        if self.kind == "s3":
            return "S3 upload under " + ", ".join(self.prefixes)
        if self.kind == "schedule":
            return f"schedule {self.schedule}"
        if self.kind == "pipeline":
            return "after " + ", ".join(self.upstream) + " succeeded"
        return f"event on {self.bus or 'the default bus'}"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline spec and the rules that start it."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The spec's declared parameters, as written."""
    spec_path: Path
    triggers: tuple[Trigger, ...] = ()
    downstream: tuple[str, ...] = field(default=())
    """Pipelines started by a rule on this pipeline's `Pipeline Succeeded` event."""


def load_pipelines(template_path: Path) -> dict[str, Pipeline]:
    """Every pipeline of the template's pipelines layer, with its triggers and downstream links."""
    sam = _read(template_path)
    specs = _specs(_specs_dir(sam, template_path))
    defaults = {
        name: declared.get("Default")
        for name, declared in (sam.get("Parameters") or {}).items()
        if isinstance(declared, Mapping)
    }
    triggers: dict[str, list[Trigger]] = {name: [] for name in specs}
    for rule, started, trigger in _triggers(sam, defaults):
        where = f"{template_path.name}: rule {rule}"
        if started not in specs:
            raise WiringError(f"{where}: starts pipeline {started!r}, which has no spec ({_known(specs)})")
        _check_parameters(where, started, specs[started]["parameters"], trigger, specs)
        triggers[started].append(trigger)
    downstream: dict[str, list[str]] = {name: [] for name in specs}
    for name, started_by in triggers.items():
        for trigger in started_by:
            for upstream in trigger.upstream:
                downstream[upstream].append(name)
    return {
        name: Pipeline(
            name,
            str(spec.get("description", "")).strip(),
            spec["parameters"],
            spec["path"],
            tuple(triggers[name]),
            tuple(sorted(set(downstream[name]))),
        )
        for name, spec in sorted(specs.items())
    }


def _read(template_path: Path) -> dict[str, Any]:
    try:
        sam = yaml.load(template_path.read_text(), Loader=_TemplateLoader)
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"{template_path}: cannot read the template: {error}") from None
    if not isinstance(sam, dict) or not isinstance(sam.get("Resources"), dict):
        raise TemplateError(f"{template_path}: not a SAM/CloudFormation template (no Resources)")
    return sam


def _specs_dir(sam: Mapping[str, Any], template_path: Path) -> Path | None:
    """The `specs/` folder of the layer that ships the pipeline specs (None: a template without one)."""
    for resource in sam["Resources"].values():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::Serverless::LayerVersion":
            continue
        uri = (resource.get("Properties") or {}).get("ContentUri")
        if isinstance(uri, str) and (template_path.parent / uri / "specs").is_dir():
            return template_path.parent / uri / "specs"
    return None


def _specs(folder: Path | None) -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")) if folder is not None else ():
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise TemplateError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(spec, Mapping):
            raise TemplateError(f"{path}: a pipeline spec is a mapping")
        parameters = spec.get("parameters") or {}
        specs[path.stem] = {**spec, "parameters": dict(parameters), "path": path}
    return specs


def _triggers(sam: Mapping[str, Any], defaults: Mapping[str, Any]) -> Iterator[tuple[str, str, Trigger]]:
    """(rule, pipeline started, trigger) for every rule whose target input names a pipeline."""
    for logical_id, resource in sam["Resources"].items():
        if not isinstance(resource, Mapping):
            continue
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::StateMachine":
            for event_name, event in (props.get("Events") or {}).items():
                event_props = event.get("Properties") or {}
                if event.get("Type") == "Schedule":
                    rule = {"ScheduleExpression": event_props.get("Schedule"), **event_props}
                elif event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                    rule = {"EventPattern": event_props.get("Pattern"), **event_props}
                else:
                    continue
                yield from _rule_triggers(f"{logical_id}{event_name}", rule, [event_props], defaults)
        elif resource.get("Type") == "AWS::Events::Rule":
            yield from _rule_triggers(logical_id, props, props.get("Targets") or [], defaults)


def _rule_triggers(
    name: str, rule: Mapping[str, Any], targets: list[Any], defaults: Mapping[str, Any]
) -> Iterator[tuple[str, str, Trigger]]:
    for target in targets:
        started = _target_input(name, target)
        if started is None:
            continue
        pipeline, parameters = started
        yield name, pipeline, _classify(name, rule, parameters, defaults)


def _target_input(rule: str, target: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The pipeline a target starts and each parameter's source; None for a target that starts none."""
    paths: dict[str, str] = {}
    if isinstance(target.get("Input"), str):
        text = target["Input"]
    elif isinstance(target.get("InputTransformer"), Mapping):
        transformer = target["InputTransformer"]
        paths = {str(k): str(v) for k, v in (transformer.get("InputPathsMap") or {}).items()}
        text = _with_placeholders(rule, str(transformer.get("InputTemplate", "")), paths)
    else:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("pipeline"), str):
        return None
    parameters = value.get("parameters", {})
    if not isinstance(parameters, dict):
        raise WiringError(f"rule {rule}: the input's parameters are not an object")
    return value["pipeline"], {
        str(key): (source if isinstance(source, str) else json.dumps(source))
        for key, source in parameters.items()
    }


def _with_placeholders(rule: str, template: str, paths: Mapping[str, str]) -> str:
    """The InputTemplate as JSON, each `<name>` standing as its InputPathsMap path (a JSON string)."""

    def path_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time"):
            return json.dumps(f"<{name}>")
        if name == "aws.events.event":
            return json.dumps("$")
        if name not in paths:
            raise WiringError(f"rule {rule}: InputTemplate placeholder <{name}> is not in InputPathsMap")
        return json.dumps(paths[name])

    return _PLACEHOLDER.sub(path_of, template)


def _classify(
    rule: str, props: Mapping[str, Any], parameters: dict[str, str], defaults: Mapping[str, Any]
) -> Trigger:
    bus = _bus_name(props.get("EventBusName"))
    expression = props.get("ScheduleExpression")
    if expression is not None:
        if isinstance(expression, Mapping) and "Ref" in expression:
            expression = defaults.get(str(expression["Ref"]), expression["Ref"])
        return Trigger(rule, "schedule", parameters, schedule=str(expression), bus=bus)
    pattern = props.get("EventPattern") or {}
    detail = pattern.get("detail") or {}
    if pattern.get("source") == ["aws.s3"]:
        keys = (detail.get("object") or {}).get("key") or []
        prefixes = tuple(str(k["prefix"]) for k in keys if isinstance(k, Mapping) and "prefix" in k)
        return Trigger(rule, "s3", parameters, prefixes=prefixes, bus=bus)
    if pattern.get("source") == [COMPLETION_SOURCE] and pattern.get("detail-type") == ["Pipeline Succeeded"]:
        upstream = tuple(str(name) for name in detail.get("pipeline") or [])
        return Trigger(rule, "pipeline", parameters, upstream=upstream, bus=bus)
    return Trigger(rule, "event", parameters, bus=bus)


def _bus_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and "Ref" in value:
        return str(value["Ref"])
    return str(value)


def _check_parameters(
    where: str,
    pipeline: str,
    declared: Mapping[str, Any],
    trigger: Trigger,
    specs: Mapping[str, Mapping[str, Any]],
) -> None:
    for param in trigger.parameters:
        if param not in declared:
            known = ", ".join(declared) or "none"
            raise WiringError(
                f"{where}: parameter {param!r} is not a parameter of pipeline {pipeline} "
                f"(it declares: {known})"
            )
    for param, definition in declared.items():
        if (definition or {}).get("required") and param not in trigger.parameters:
            raise WiringError(f"{where}: required parameter {param!r} of pipeline {pipeline} is not given")
    for upstream in trigger.upstream:
        if upstream not in specs:
            raise WiringError(f"{where}: upstream pipeline {upstream!r} has no spec ({_known(specs)})")
        for param, source in trigger.parameters.items():
            match = UPSTREAM_PARAMETER.match(source)
            if match and match.group(1) not in specs[upstream]["parameters"]:
                raise WiringError(
                    f"{where}: parameter {param!r} reads {source}, but upstream pipeline {upstream} "
                    f"has no parameter {match.group(1)!r}"
                )


def _known(specs: Mapping[str, Any]) -> str:
    return "known pipelines: " + (", ".join(sorted(specs)) or "none")
