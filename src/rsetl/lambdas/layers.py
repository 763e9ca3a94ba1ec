"""How Lambda puts a function's layers into /opt: one folder merging them, later layers winning, and
under python/ what `sam build` builds for a layer with a BuildMethod (its requirements installed)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.exceptions import InvalidFunctionConfig
from rsetl.lambdas.packages import PackageCache

__all__ = ["build_opt_dir", "layer_subfolder", "opt_contents"]


def build_opt_dir(target: Path, contents: Iterable[tuple[str, Path]]) -> None:
    """Merge folders into `target` (later ones win), the way Lambda extracts layers into /opt.

    Each item is `(subfolder, folder)`: the entries of `folder` land in `target/subfolder`
    (`""` for a layer packaged as it is, `"python"` for what `sam build` puts under python/).
    """
    target.mkdir(parents=True, exist_ok=True)
    for subfolder, source in contents:
        if not source.is_dir():
            raise InvalidFunctionConfig(f"Layer folder {source} does not exist")
        destination = target / subfolder if subfolder else target
        destination.mkdir(parents=True, exist_ok=True)
        _merge(destination, source.resolve())


def layer_subfolder(build_method: str) -> str:
    """Where `sam build` puts a layer built with `build_method` (samcli's get_layer_subfolder)."""
    if re.fullmatch(r"python3\.\d+", build_method):
        return "python"
    raise InvalidFunctionConfig(
        f"Layer BuildMethod {build_method!r} cannot be built locally (only python3.x BuildMethods are)"
    )


def opt_contents(config: FunctionConfig, packages: PackageCache) -> list[tuple[str, Path]]:
    """What lands in /opt: each layer's folder, and under python/ what `sam build` built for it."""
    contents: list[tuple[str, Path]] = []
    for layer in config.layers:
        content_dir = Path(layer.content_dir)
        if layer.build_method is None:
            contents.append(("", content_dir))
            continue
        subfolder = layer_subfolder(layer.build_method)
        contents.append((subfolder, content_dir))
        requirements = content_dir / "requirements.txt"
        if requirements.is_file():
            purpose = f"layer {layer.name or content_dir}"
            contents.append((subfolder, packages.installed(requirements, purpose)))
    return contents


def _merge(target: Path, source: Path) -> None:
    for entry in source.iterdir():
        destination = target / entry.name
        if entry.is_dir() and destination.exists() and destination.is_dir():
            if destination.is_symlink():
                # Two layers share this folder: replace the link by a real folder holding both.
                linked = destination.resolve()
                destination.unlink()
                destination.mkdir()
                _merge(destination, linked)
            _merge(destination, entry)
            continue
        if destination.is_symlink() or destination.is_file():
            destination.unlink()
        elif destination.is_dir():
            shutil.rmtree(destination)
        destination.symlink_to(entry, target_is_directory=entry.is_dir())
