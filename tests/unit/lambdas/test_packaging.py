"""Each local function imports only what `sam build` packages for it: code, requirements, layers.

AWS documents what a Python function can import:
- "Building Lambda layers in AWS SAM" (a layer is built, its requirements.txt installed, only with
  `Metadata: BuildMethod`; the built content sits under python/, samcli's get_layer_subfolder):
  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-layers.html
- "Packaging your layer content", layer paths of the Python runtime (python,
  python/lib/python3.x/site-packages): https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html
- "Working with layers for Python Lambda functions" (sys.path: /var/task, then the layer paths,
  then the runtime's own): https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
- "Building Lambda functions with Python", runtime-included SDK versions (include your own SDK):
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
"""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from rsetl.lambdas import (
    FunctionConfig,
    InvalidFunctionConfig,
    LambdaRuntime,
    LayerConfig,
    PackageCache,
    PackageInstallError,
)
from rsetl.lambdas.packages import CACHE_DIR_VARIABLE, default_cache_dir

ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"

REPORT_PATH = """
import sys

def lambda_handler(event, context):
    return sys.path
"""

IMPORT_SIX = """
import six

def lambda_handler(event, context):
    return six.__name__
"""


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> PackageCache:
    """One cache for the module: `six` (small, pure Python) is installed once from the local index."""
    return PackageCache(tmp_path_factory.mktemp("package-cache"))


def function(name: str, code_dir: Path, **options: Any) -> FunctionConfig:
    return FunctionConfig(name=name, arn=ARN.format(name), code_dir=code_dir, timeout_seconds=30, **options)


def test_installed_packages_of_this_interpreter_are_not_importable(tmp_path: Path) -> None:
    """PyYAML is in the environment running rsetl; a function that does not declare it cannot import it.

    Lambda reports a failed import as `Runtime.ImportModuleError` with "Unable to import module".
    """
    write(tmp_path / "fn" / "app.py", "import yaml\n\ndef lambda_handler(event, context):\n    return 1\n")
    with LambdaRuntime([function("needs-yaml", tmp_path / "fn")]) as runtime:
        errors = runtime.startup_errors()
        result = runtime.invoke("needs-yaml", {})
    assert errors["needs-yaml"]["errorType"] == "Runtime.ImportModuleError"
    assert errors["needs-yaml"]["errorMessage"] == "Unable to import module 'app': No module named 'yaml'"
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"


def test_sys_path_is_code_then_layers_then_the_standard_library(tmp_path: Path) -> None:
    code = write(tmp_path / "fn" / "app.py", REPORT_PATH).parent
    write(tmp_path / "layer" / "python" / "shared.py", "")
    config = function("paths", code, layers=(LayerConfig(tmp_path / "layer"),))
    with LambdaRuntime([config], work_dir=tmp_path / "work") as runtime:
        path = runtime.invoke("paths", {}).payload
    opt = tmp_path / "work" / "paths" / "opt"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert path[:3] == [str(code.resolve()), f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"]
    assert not [entry for entry in path if "site-packages" in entry and not entry.startswith(str(opt))]
    assert str(Path(__file__).resolve().parents[3] / "src") not in path


def test_function_requirements_are_installed_beside_its_code(tmp_path: Path, packages: PackageCache) -> None:
    code = write(tmp_path / "fn" / "app.py", IMPORT_SIX).parent
    (code / "requirements.txt").write_text("six\n")
    with LambdaRuntime([function("with-six", code)], packages=packages) as runtime:
        assert runtime.startup_errors() == {}
        assert runtime.invoke("with-six", {}).payload == "six"


def test_layer_requirements_are_installed_only_when_it_declares_a_build_method(
    tmp_path: Path, packages: PackageCache
) -> None:
    """Without BuildMethod `sam build` copies ContentUri as it is; with one it builds it into python/."""
    code = write(tmp_path / "fn" / "app.py", "import shared\n" + IMPORT_SIX).parent
    layer = tmp_path / "layer"
    write(layer / "shared.py", "")
    (layer / "requirements.txt").write_text("six\n")
    built = function("built", code, layers=(LayerConfig(layer, "python3.11", "Shared"),))
    copied = function("copied", code, layers=(LayerConfig(layer, None, "Shared"),))
    with LambdaRuntime([built, copied], packages=packages) as runtime:
        errors = runtime.startup_errors()
        assert runtime.invoke("built", {}).payload == "six"
    assert list(errors) == ["copied"]
    assert errors["copied"]["errorMessage"] == "Unable to import module 'app': No module named 'shared'"


def test_a_layer_built_into_python_must_not_nest_its_own_python_folder(
    tmp_path: Path, packages: PackageCache
) -> None:
    """ContentUri `layer/` holding `python/pkg` with a BuildMethod lands as /opt/python/python/pkg."""
    code = write(
        tmp_path / "fn" / "app.py", "import pkg\n\ndef lambda_handler(event, context):\n    return 1\n"
    )
    write(tmp_path / "layer" / "python" / "pkg" / "__init__.py", "")
    config = function("nested", code.parent, layers=(LayerConfig(tmp_path / "layer", "python3.11"),))
    with LambdaRuntime([config], packages=packages) as runtime:
        errors = runtime.startup_errors()
    assert errors["nested"]["errorMessage"] == "Unable to import module 'app': No module named 'pkg'"


def test_a_build_method_that_cannot_be_built_locally_is_refused(tmp_path: Path) -> None:
    code = write(tmp_path / "fn" / "app.py", REPORT_PATH).parent
    (tmp_path / "layer").mkdir()
    config = function("make", code, layers=(LayerConfig(tmp_path / "layer", "makefile"),))
    with pytest.raises(InvalidFunctionConfig, match="BuildMethod 'makefile'"):
        LambdaRuntime([config])


def test_a_runtime_other_than_the_local_python_is_a_warning(tmp_path: Path) -> None:
    code = write(tmp_path / "fn" / "app.py", REPORT_PATH).parent
    local = f"python{sys.version_info.major}.{sys.version_info.minor}"
    same = function("same", code, runtime=local)
    other = function("other", code, runtime="python3.9")
    with LambdaRuntime([same, other]) as runtime:
        assert len(runtime.warnings) == 1
        assert "Function other: Runtime is python3.9" in runtime.warnings[0]
        assert local in runtime.warnings[0]


def test_cached_packages_are_reused_without_pip(
    tmp_path: Path, packages: PackageCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(tmp_path / "a" / "requirements.txt", "six\n")
    installed = packages.installed(first, "a")

    def no_pip(*args: object) -> None:
        raise AssertionError("pip ran for cached requirements")

    monkeypatch.setattr(PackageCache, "_pip_install", no_pip)
    same_text = write(tmp_path / "b" / "requirements.txt", "six\n")
    assert packages.installed(same_text, "b") == installed
    assert (installed / "six.py").is_file()


def test_concurrent_builders_install_once_and_share_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = write(tmp_path / "requirements.txt", "anything\n")
    runs: list[Path] = []
    started = threading.Event()

    def fake_pip(self: PackageCache, requirements: Path, target: Path, purpose: str) -> None:
        runs.append(target)
        started.set()
        (target / "installed.txt").write_text(purpose)

    monkeypatch.setattr(PackageCache, "_pip_install", fake_pip)
    cache = PackageCache(tmp_path / "cache")
    results: list[Path] = []
    builders = [
        threading.Thread(target=lambda n=n: results.append(cache.installed(requirements, f"builder {n}")))
        for n in range(4)
    ]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join()
    assert len(runs) == 1
    assert len(set(results)) == 1 and (results[0] / "installed.txt").is_file()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")) == [
        results[0].name
    ]


def test_a_killed_builders_scratch_folder_is_removed_by_the_next_builder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_pip(self: PackageCache, requirements: Path, target: Path, purpose: str) -> None:
        (target / "installed.txt").write_text(purpose)

    monkeypatch.setattr(PackageCache, "_pip_install", fake_pip)
    requirements = write(tmp_path / "requirements.txt", "anything\n")
    cache = PackageCache(tmp_path / "cache")
    leftover = tmp_path / "cache" / f".{cache.key(requirements)}-killed"
    leftover.mkdir(parents=True)
    installed = cache.installed(requirements, "function f")
    assert not leftover.exists() and (installed / "installed.txt").is_file()


def test_a_failing_install_says_which_requirements_and_leaves_nothing_behind(tmp_path: Path) -> None:
    requirements = write(tmp_path / "requirements.txt", "rsetl-no-such-package-anywhere==0.0.1\n")
    cache = PackageCache(tmp_path / "cache")
    with pytest.raises(PackageInstallError, match="rsetl-no-such-package-anywhere") as raised:
        cache.installed(requirements, "function broken")
    assert str(requirements) in str(raised.value) and "function broken" in str(raised.value)
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]


def test_cache_folder_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "envs"))
    assert default_cache_dir() == tmp_path / "envs"
    monkeypatch.delenv(CACHE_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "rsetl" / "lambda-envs"


def test_a_syntax_error_in_the_handler_module_is_user_code_syntax_error(tmp_path: Path) -> None:
    """The Python runtime interface client reports it as `Runtime.UserCodeSyntaxError`.

    aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py (`_get_handler`):
    https://github.com/aws/aws-lambda-python-runtime-interface-client
    """
    write(tmp_path / "fn" / "app.py", "def lambda_handler(event, context)\n    return 1\n")
    with LambdaRuntime([function("broken-syntax", tmp_path / "fn")]) as runtime:
        error = runtime.startup_errors()["broken-syntax"]
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'app': ")
