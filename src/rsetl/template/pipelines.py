"""Every pipeline and how it starts, read from `template.yaml` alone: the template is the single
source of wiring.

A pipeline is a spec file in the pipelines layer (the `AWS::Serverless::LayerVersion` whose
`ContentUri` holds `specs/`; a template without one has no pipelines). It starts by a rule whose
target input is `{"pipeline": NAME, "parameters": {...}}`: an S3 `Object Created` rule (key
prefixes), a schedule, or a rule on another pipeline's `Pipeline Succeeded` event (the upstream
pipeline's downstream link). It also starts, indirectly, by a rule whose target is a function or a
state machine that leads to a `states:startExecution` task whose input names a literal pipeline: a
function through an environment value that `!Ref`s a state machine, a state machine through its ASL
(DefinitionSubstitutions filled) and the machines its tasks start. Each rule's parameters are
checked against the spec's: a rule that names an unknown pipeline or parameter, leaves a required
parameter out, or reads `$.detail.parameters.X` of an upstream pipeline that has no `X` fails with a
:class:`WiringError` naming the rule and the parameter. It stays one module past 400 lines: reading
a trigger and checking it against the specs are one walk over the template's rules and targets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from rsetl.stepfunctions.definition import substitute
from rsetl.stepfunctions.exceptions import DefinitionError
from rsetl.template.exceptions import TemplateError
from rsetl.template.loader import _TemplateLoader

COMPLETION_SOURCE = "rsetl.pipeline"
UPSTREAM_PARAMETER = re.compile(r"^\$\.detail\.parameters\.([A-Za-z_][A-Za-z0-9_]*)$")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")
_STATE_MACHINES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
_FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_START_EXECUTION = "arn:aws:states:::states:startExecution"


class WiringError(TemplateError):
    """A rule in the template does not fit the pipeline it starts; the message names both."""


@dataclass(frozen=True)
class Trigger:
    """One rule that starts a pipeline."""

    rule: str
    """The rule's logical id (SAM names a state machine event's rule `<machine><event>`)."""
    kind: str
    """`s3` (an upload under a prefix), `schedule`, `pipeline` (another pipeline succeeded), `event`, or
    `indirect` (the rule's target does not start the pipeline itself but through `via`)."""
    parameters: dict[str, str]
    """Run parameter -> where its value comes from: an event path (`$.detail.object.key`) or a literal."""
    prefixes: tuple[str, ...] = ()
    schedule: str | None = None
    """The schedule's expression (a stack parameter's default when the template takes it from one)."""
    upstream: tuple[str, ...] = ()
    bus: str | None = None
    """The bus the rule listens on (None: the account's default bus)."""
    via: tuple[str, ...] = ()
    """An indirect trigger's chain: the rule's target, then each state machine it starts, the last one
    starting the pipeline (e.g. a function whose environment names a state machine, then that machine)."""

    def summary(self) -> str:
        """One line saying when the rule starts its pipeline (and through what, when indirect)."""
        when = self.when()
        return f"{when}, through {' -> '.join(self.via)}" if self.via else when

    def when(self) -> str:
        """What the rule listens for: a schedule, upstream pipelines' success, an upload or an event."""
        if self.schedule is not None:
            return f"schedule {self.schedule}"
        if self.upstream:
            return "after " + ", ".join(self.upstream) + " succeeded"
        if self.prefixes:
            return "S3 upload under " + ", ".join(self.prefixes)
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
    """Pipelines started by a rule on this pipeline's `Pipeline Succeeded` event, directly or not."""


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
    for rule, started, trigger in _triggers(sam, template_path, defaults):
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


def _triggers(
    sam: Mapping[str, Any], template_path: Path, defaults: Mapping[str, Any]
) -> Iterator[tuple[str, str, Trigger]]:
    """(rule, pipeline started, trigger) for every rule that starts a pipeline, directly or not."""
    wiring = _Wiring(sam, template_path, defaults)
    for logical_id, resource in sam["Resources"].items():
        if not isinstance(resource, Mapping):
            continue
        props = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind in ("AWS::Serverless::StateMachine", "AWS::Serverless::Function"):
            for event_name, event in (props.get("Events") or {}).items():
                event_props = event.get("Properties") or {}
                if event.get("Type") == "Schedule":
                    rule = {"ScheduleExpression": event_props.get("Schedule"), **event_props}
                elif event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                    rule = {"EventPattern": event_props.get("Pattern"), **event_props}
                else:
                    continue
                # SAM names an event's rule `<resource><event>` and targets the resource itself.
                target = {**event_props, "Arn": {"Ref": logical_id}}
                yield from wiring.rule_triggers(f"{logical_id}{event_name}", rule, [target])
        elif kind == "AWS::Events::Rule":
            yield from wiring.rule_triggers(logical_id, props, props.get("Targets") or [])


class _Wiring:
    """Follows a rule's target to the pipelines it starts."""

    def __init__(self, sam: Mapping[str, Any], template_path: Path, defaults: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Any] = sam["Resources"]
        self.template_path = template_path
        self.defaults = defaults
        globals_function = (sam.get("Globals") or {}).get("Function") or {}
        self.global_environment: Mapping[str, Any] = (globals_function.get("Environment") or {}).get(
            "Variables"
        ) or {}

    def rule_triggers(
        self, name: str, rule: Mapping[str, Any], targets: list[Any]
    ) -> Iterator[tuple[str, str, Trigger]]:
        for target in targets:
            started = _target_input(name, target)
            if started is not None:
                pipeline, parameters = started
                yield name, pipeline, _classify(name, rule, parameters, self.defaults)
                continue
            resource = _resource_named(target.get("Arn"))
            for via, pipeline, parameters in self._started_by(resource, (), frozenset()):
                trigger = _classify(name, rule, parameters, self.defaults)
                yield name, pipeline, replace(trigger, kind="indirect", via=via)

    def _started_by(
        self, logical_id: str | None, via: tuple[str, ...], seen: frozenset[str]
    ) -> Iterator[tuple[tuple[str, ...], str, dict[str, str]]]:
        """(chain, pipeline, parameters) for each pipeline the resource starts, following machines."""
        resource = self.resources.get(logical_id) if logical_id is not None else None
        if logical_id is None or logical_id in seen or not isinstance(resource, Mapping):
            return
        via, seen = (*via, logical_id), seen | {logical_id}
        props = resource.get("Properties") or {}
        if resource.get("Type") in _FUNCTIONS:
            variables = {
                **self.global_environment,
                **((props.get("Environment") or {}).get("Variables") or {}),
            }
            for value in variables.values():
                if isinstance(value, Mapping) and set(value) == {"Ref"} and self._is_machine(value["Ref"]):
                    yield from self._started_by(str(value["Ref"]), via, seen)
        elif resource.get("Type") in _STATE_MACHINES:
            for arn, execution_input in self._executions_started(logical_id, props):
                started = _pipeline_input(f"state machine {logical_id}", execution_input)
                if started is not None:
                    yield (via, *started)
                elif self._is_machine(arn):
                    yield from self._started_by(arn, via, seen)

    def _is_machine(self, logical_id: Any) -> bool:
        resource = self.resources.get(logical_id) if isinstance(logical_id, str) else None
        return isinstance(resource, Mapping) and resource.get("Type") in _STATE_MACHINES

    def _executions_started(self, logical_id: str, props: Mapping[str, Any]) -> Iterator[tuple[Any, Any]]:
        """(StateMachineArn, Input) of every `states:startExecution` task of the machine's definition."""
        for state in _states(self._definition(logical_id, props)):
            resource = state.get("Resource")
            if (
                state.get("Type") == "Task"
                and isinstance(resource, str)
                and resource.startswith(_START_EXECUTION)
            ):
                arguments = state.get("Parameters") or state.get("Arguments") or {}
                if isinstance(arguments, Mapping):
                    yield arguments.get("StateMachineArn"), arguments.get("Input")

    def _definition(self, logical_id: str, props: Mapping[str, Any]) -> Any:
        """The machine's ASL with its DefinitionSubstitutions filled, a resource's `!Ref`/`!GetAtt`
        standing as its logical id and a parameter's `!Ref` as its default."""
        where = f"{self.template_path.name}: state machine {logical_id}"
        uri, definition = props.get("DefinitionUri"), props.get("Definition")
        if isinstance(uri, str):
            path = self.template_path.parent / uri
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise TemplateError(f"{where}: cannot read DefinitionUri {uri}: {error}") from None
        elif isinstance(definition, Mapping):
            text = json.dumps(definition)
        elif isinstance(props.get("DefinitionString"), str):
            text = props["DefinitionString"]
        else:
            return {}
        substitutions = {
            str(name): json.dumps(str(self._stand_in(value)))[1:-1]
            for name, value in (props.get("DefinitionSubstitutions") or {}).items()
        }
        try:
            text = substitute(text, substitutions)
            return (
                json.loads(text)
                if not isinstance(uri, str) or uri.endswith(".json")
                else yaml.safe_load(text)
            )
        except DefinitionError as error:
            raise TemplateError(f"{where}: {error.reason}") from None
        except (ValueError, yaml.YAMLError) as error:
            raise TemplateError(f"{where}: the definition is not valid: {error}") from None

    def _stand_in(self, value: Any) -> Any:
        named = _resource_named(value)
        if named is None:
            return value
        if "Ref" in value and named not in self.resources:
            return self.defaults.get(named, named)
        return named


def _states(definition: Any) -> Iterator[Mapping[str, Any]]:
    """Every state of an ASL definition, those of Parallel branches and Map processors too."""
    states = definition.get("States") if isinstance(definition, Mapping) else None
    for state in (states or {}).values():
        if not isinstance(state, Mapping):
            continue
        yield state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        yield from _states(state.get("ItemProcessor") or state.get("Iterator"))


def _resource_named(arn: Any) -> str | None:
    """The logical id a target's `Arn` names (`!Ref X` or `!GetAtt X.Arn`)."""
    if isinstance(arn, Mapping) and set(arn) == {"Ref"}:
        return str(arn["Ref"])
    if isinstance(arn, Mapping) and set(arn) == {"Fn::GetAtt"}:
        attribute = arn["Fn::GetAtt"]
        return str(attribute[0]) if isinstance(attribute, list) else str(attribute).split(".")[0]
    return None


def _target_input(rule: str, target: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The pipeline a target's input starts and each parameter's source; None for another input."""
    paths: dict[str, str] = {}
    if isinstance(target.get("Input"), str):
        text = target["Input"]
    elif isinstance(target.get("InputTransformer"), Mapping):
        transformer = target["InputTransformer"]
        paths = {str(k): str(v) for k, v in (transformer.get("InputPathsMap") or {}).items()}
        text = _with_placeholders(rule, str(transformer.get("InputTemplate", "")), paths)
    else:
        return None
    return _pipeline_input(f"rule {rule}", text)


def _pipeline_input(where: str, value: Any) -> tuple[str, dict[str, str]] | None:
    """The literal pipeline an execution input (an object, or JSON text) names and each parameter's
    source (a path for a `name.$` key of a state's Parameters); None for an input naming none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not isinstance(value.get("pipeline"), str):
        return None
    parameters = value.get("parameters", {})
    if not isinstance(parameters, dict):
        raise WiringError(f"{where}: the input's parameters are not an object")
    return value["pipeline"], {
        str(key).removesuffix(".$"): (source if isinstance(source, str) else json.dumps(source))
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
        # An indirect trigger's sources are paths in the last machine's input, not in the event.
        for param, source in () if trigger.via else trigger.parameters.items():
            match = UPSTREAM_PARAMETER.match(source)
            if match and match.group(1) not in specs[upstream]["parameters"]:
                raise WiringError(
                    f"{where}: parameter {param!r} reads {source}, but upstream pipeline {upstream} "
                    f"has no parameter {match.group(1)!r}"
                )


def _known(specs: Mapping[str, Any]) -> str:
    return "known pipelines: " + (", ".join(sorted(specs)) or "none")
