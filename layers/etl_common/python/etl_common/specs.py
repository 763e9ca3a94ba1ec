"""Pipeline specs: YAML files under ``<PIPELINES_DIR>/specs`` validated by a JSON Schema and by the
rules a schema cannot express (declared parameters, unique step names). How a pipeline starts is
not in its spec: `template.yaml`'s rules are the one place of wiring."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .batches import FILE_PARAMETERS, FOR_EACH_FILE, max_files
from .errors import SpecError
from .schemas import pipelines_dir, validate_document
from .sqltext import referenced_parameters

SPEC_SCHEMA = "pipeline-spec"
BUILTIN_PARAMETERS = ("pipeline", "execution_name")
"""Parameters every run has without declaring them."""
QUARANTINE_PARAMETERS = ("bucket", "object_key", "etag")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

MAX_SQL_BYTES = 100_000
"""The Data API's statement limit, "100 KB", in UTF-8 bytes (the schema's maxLength counts characters).

Read as 100,000 bytes, the stricter of 100,000 and 102,400, so a spec that passes here passes on AWS."""


def specs_dir(base: Path | None = None) -> Path:
    """Folder of the pipeline spec files."""
    return (base or pipelines_dir()) / "specs"


def spec_names(base: Path | None = None) -> list[str]:
    """Names of every pipeline that has a spec file, sorted."""
    return sorted(path.stem for path in specs_dir(base).glob("*.yaml"))


def load_spec(name: str, base: Path | None = None) -> dict[str, Any]:
    """Read and validate the spec of pipeline ``name``; ``SpecError`` says what is wrong and where."""
    if not _NAME.match(name):
        raise SpecError(f"pipeline name {name!r} is not a valid name (lowercase letters, digits, '_')")
    path = specs_dir(base) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(spec_names(base)) or "none"
        raise SpecError(f"pipeline {name!r} has no spec file {path} (known pipelines: {known})")
    return parse_spec(path.read_text(encoding="utf-8"), str(path), expected_name=name, base=base)


def parse_spec(
    text: str, source: str, expected_name: str | None = None, base: Path | None = None
) -> dict[str, Any]:
    """Parse and validate one spec's YAML text; ``source`` names it in error messages."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(f"{source}: not valid YAML: {err}") from err
    validate_document(SPEC_SCHEMA, spec, f"pipeline spec {source}", SpecError, base)
    problems = _semantic_problems(spec)
    if expected_name is not None and spec["name"] != expected_name:
        problems.insert(0, f"name: {spec['name']!r} does not match the file name {expected_name!r}")
    if problems:
        raise SpecError(f"pipeline spec {source} is invalid: " + "; ".join(problems))
    return spec


def load_all_specs(base: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every spec, validated."""
    return {name: load_spec(name, base) for name in spec_names(base)}


def iter_steps(spec: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The spec's stages in order as ``(stage name, steps)``; a plain step is a stage of one."""
    stages = []
    for entry in spec["steps"]:
        stages.append((entry["name"], list(entry["parallel"]) if "parallel" in entry else [entry]))
    return stages


def statement_parameters(statement: Mapping[str, Any]) -> list[str]:
    """Run parameters a spec statement reads: ``:name`` references, call args and COPY sources."""
    if "sql" in statement:
        return referenced_parameters(statement["sql"])
    if "call" in statement:
        return list(statement["call"].get("args", []))
    if "copy" in statement:
        copy = statement["copy"]
        return [copy.get("bucket", "bucket"), copy.get("key", "object_key")]
    if FOR_EACH_FILE in statement:
        inner = (p for s in statement[FOR_EACH_FILE] for p in statement_parameters(s))
        return list(dict.fromkeys(p for p in inner if p not in FILE_PARAMETERS))
    return []


def _semantic_problems(spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    declared = spec.get("parameters", {})
    known = set(declared) | set(BUILTIN_PARAMETERS)
    for param, definition in declared.items():
        if param in BUILTIN_PARAMETERS:
            problems.append(f"parameters.{param}: {param!r} is built in and cannot be declared")
        problems.extend(_default_problems(param, definition))
    seen: set[str] = set()
    for position, entry in enumerate(spec["steps"]):
        members = entry.get("parallel", [entry])
        names = [entry["name"]] + ([m["name"] for m in members] if "parallel" in entry else [])
        for name in names:
            if name in seen:
                problems.append(f"steps[{position}]: step name {name!r} is used more than once")
            seen.add(name)
        for step in members:
            if step.get("expect") and len(step["statements"]) != 1:
                problems.append(
                    f"step {step['name']}: expect needs exactly one statement (the check's SELECT)"
                )
            for index, statement in enumerate(step["statements"]):
                size = len(str(statement.get("sql", "")).encode("utf-8"))
                if size > MAX_SQL_BYTES:
                    problems.append(
                        f"step {step['name']}: statements[{index}].sql is {size} bytes of UTF-8; "
                        f"the Data API takes at most {MAX_SQL_BYTES}"
                    )
                for param in statement_parameters(statement):
                    if param not in known:
                        problems.append(
                            f"step {step['name']}: statements[{index}] uses parameter {param!r}, "
                            f"which the spec does not declare"
                        )
                problems.extend(_per_file_problems(step["name"], index, statement))
    if max_files(spec) < 1:
        problems.append("for_each_file: a step with its statements for one file exceeds 40 statements")
    if spec.get("on_failure", {}).get("quarantine"):
        missing = [p for p in QUARANTINE_PARAMETERS if p not in declared]
        if missing:
            problems.append(f"on_failure.quarantine needs parameters {', '.join(missing)}")
    return problems


def _per_file_problems(step: str, index: int, statement: dict[str, Any]) -> list[str]:
    """A ``for_each_file`` list holds calls and copies (whose file parameters are renamed per file)
    and SQL that reads no file parameter."""
    problems = []
    for inner in statement.get(FOR_EACH_FILE, []):
        where = f"step {step}: statements[{index}].for_each_file"
        if FOR_EACH_FILE in inner:
            problems.append(f"{where}: for_each_file cannot nest")
        elif "sql" in inner and set(referenced_parameters(inner["sql"])) & set(FILE_PARAMETERS):
            problems.append(f"{where}: sql cannot read a file's parameters; call a procedure with them")
    return problems


def _default_problems(param: str, definition: dict[str, Any]) -> list[str]:
    if "default" not in definition:
        return []
    default = definition["default"]
    kind = definition.get("type", "string")
    where = f"parameters.{param}.default"
    if definition.get("required"):
        return [f"{where}: a required parameter cannot have a default"]
    if isinstance(default, dict) and kind != "date":
        return [f"{where}: days_ago is only for date parameters"]
    if kind == "integer" and not isinstance(default, int | dict):
        return [f"{where}: must be an integer"]
    if kind in ("string", "date") and isinstance(default, int):
        return [f"{where}: must be a string"]
    return []
