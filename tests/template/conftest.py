"""The SAM template transformed offline with aws-sam-translator, and the etl_common layer on sys.path."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "layers" / "etl_common" / "python"))
ASL_FILES = sorted((REPO / "statemachines").glob("*.asl.json"))
# The transform asks boto3 for the region (no credentials needed); CI may not set one.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class _NoManagedPolicies:
    """The template names no managed policies, so the transform needs no IAM look-up."""

    def load(self) -> dict[str, str]:
        return {}


def sam_template() -> dict[str, Any]:
    return yaml_parse((REPO / "template.yaml").read_text())


def translate(sam: dict[str, Any]) -> dict[str, Any]:
    """Transform like ``sam package`` would see it: local folders stand for uploaded artifacts."""
    sam = copy.deepcopy(sam)
    for resource in sam["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                assert (REPO / props[key]).is_dir(), f"{key} {props[key]} is not a folder"
                props[key] = f"s3://artifacts/{props[key]}"
        if "DefinitionUri" in props:
            props["Definition"] = json.loads((REPO / props.pop("DefinitionUri")).read_text())
    return transform(sam, {}, _NoManagedPolicies())


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    return sam_template()


@pytest.fixture(scope="session")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam)


BATCHED_SALES_LOADS = "BatchedSalesLoads"


def deployed(resources: dict[str, Any], *, batched: bool) -> dict[str, Any]:
    """The resources of a stack whose SalesLoads parameter is BATCHED or not: the resources of the
    BatchedSalesLoads condition kept or dropped, its `Fn::If`s resolved (AWS::NoValue dropped from lists).
    The other conditions depend on the Redshift target and stay as the transform wrote them."""

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Fn::If"}:
                name, *branches = value["Fn::If"]
                if name == BATCHED_SALES_LOADS:
                    return resolve(branches[0 if batched else 1])
                return {"Fn::If": [name, *map(resolve, branches)]}
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [item for item in map(resolve, value) if item != {"Ref": "AWS::NoValue"}]
        return value

    return {
        name: resolve(resource)
        for name, resource in resources.items()
        if batched or resource.get("Condition") != BATCHED_SALES_LOADS
    }


@pytest.fixture(scope="session")
def resources(cfn: dict[str, Any]) -> dict[str, Any]:
    """The resources with the default parameters (SalesLoads: PER_FILE)."""
    return deployed(cfn["Resources"], batched=False)


@pytest.fixture(scope="session")
def batched_resources(cfn: dict[str, Any]) -> dict[str, Any]:
    """The resources with SalesLoads: BATCHED."""
    return deployed(cfn["Resources"], batched=True)


@pytest.fixture(autouse=True)
def pipelines_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINES_DIR", str(REPO / "pipelines"))
    return REPO / "pipelines"


@pytest.fixture(scope="session")
def iam_checks() -> Any:
    """The least-privilege checker next to this file (tests import nothing by path in importlib mode)."""
    spec = importlib.util.spec_from_file_location(
        "rsetl_template_iam_checks", Path(__file__).with_name("iam_checks.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
