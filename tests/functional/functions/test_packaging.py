"""Every handler of template.yaml imports with only what `sam build` packages for its function.

Each function of the real template starts in the local runtime's isolated environment: its CodeUri,
the packages of its requirements.txt, and its layers (EtlCommonLayer built with its own
requirements.txt because it declares `Metadata: BuildMethod`). On AWS a module the function does
not package fails every invocation with `Runtime.ImportModuleError`.

- "Building Lambda layers in AWS SAM":
  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-layers.html
- "Working with layers for Python Lambda functions" (the layers' paths on sys.path):
  https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rsetl.lambdas import FunctionConfig, LambdaRuntime
from rsetl.runtime.runtime import LocalRuntime, RuntimeOptions

REPO = Path(__file__).resolve().parents[3]

WAIT_TIME_SECONDS_BOTO3 = (1, 43, 55)
"""First boto3/botocore release whose redshift-data model has `WaitTimeSeconds`."""


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> list[FunctionConfig]:
    runtime = LocalRuntime(RuntimeOptions(project_dir=REPO, state_dir=tmp_path_factory.mktemp("state")))
    return runtime._function_configs()


def test_every_handler_imports_with_what_its_function_declares(functions: list[FunctionConfig]) -> None:
    assert len(functions) == 7
    with LambdaRuntime(functions) as runtime:
        assert runtime.startup_errors() == {}
        assert runtime.warnings == []


def test_the_shared_layer_is_built_with_its_requirements(functions: list[FunctionConfig]) -> None:
    """EtlCommonLayer's ContentUri is the folder that becomes /opt/python once sam build runs."""
    layers = {layer.name: layer for config in functions for layer in config.layers}
    common = layers["EtlCommonLayer"]
    assert common.build_method == "python3.11"
    assert (Path(common.content_dir) / "etl_common" / "__init__.py").is_file()
    assert (Path(common.content_dir) / "requirements.txt").is_file()


def test_every_function_packages_a_boto3_with_wait_time_seconds(functions: list[FunctionConfig]) -> None:
    """The runtime-included SDK may predate `WaitTimeSeconds` (botocore 1.43.55): each function ships its own.

    "Building Lambda functions with Python", runtime-included SDK versions:
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
    """
    sources = [Path(config.code_dir) / "requirements.txt" for config in functions] + [REPO / "pyproject.toml"]
    for source in sources:
        floor = re.search(r"^\s*\"?boto3>=([\d.]+)", source.read_text(), re.M)
        assert floor is not None, source
        assert tuple(int(part) for part in floor.group(1).split(".")) >= WAIT_TIME_SECONDS_BOTO3, source
