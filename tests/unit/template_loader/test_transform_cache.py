"""The SAM transform is cached by its input: a second load of an unchanged template skips it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rsetl.template import load_template, loader

FIXTURE = Path(__file__).parent / "fixture"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _refuse(*_: Any) -> Any:
    raise AssertionError("the SAM transform ran again for an input it had already transformed")


def test_an_unchanged_template_loads_from_the_cache_as_it_was_transformed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = load_template(FIXTURE / "template.yaml")
    monkeypatch.setattr(loader, "_translate", _refuse)
    second = load_template(FIXTURE / "template.yaml")
    assert second.resources == first.resources
    assert second.outputs == first.outputs


def test_a_changed_parameter_transforms_again(monkeypatch: pytest.MonkeyPatch) -> None:
    load_template(FIXTURE / "template.yaml")
    transformed: list[dict[str, Any]] = []
    translate = loader._translate

    def counting(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
        transformed.append(parameters)
        return translate(sam, parameters, region)

    monkeypatch.setattr(loader, "_translate", counting)
    template = load_template(FIXTURE / "template.yaml", parameter_overrides={"Environment": "prod"})
    assert template.parameters["Environment"] == "prod"
    assert [p["Environment"] for p in transformed] == ["prod"]
