"""The etl_common facade loads a helper's module on first use, so a helper costs only its own imports."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import etl_common
import pytest

LAYER = Path(__file__).resolve().parents[3] / "layers" / "etl_common" / "python"

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import etl_common
getattr(etl_common, sys.argv[2])
print(json.dumps(sorted(m for m in ("yaml", "jsonschema", "botocore", "boto3") if m in sys.modules)))
"""


def third_party_modules_loaded_by(name: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(LAYER), name], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PollPolicy", []),
        ("RedshiftTarget", []),
        ("quote_literal", ["botocore"]),
        ("submit", ["botocore"]),
        ("failed_load", ["botocore"]),
        ("schema_errors", ["jsonschema"]),
        ("load_spec", ["botocore", "jsonschema", "yaml"]),
    ],
)
def test_a_helper_pulls_in_only_its_own_dependencies(name: str, expected: list[str]) -> None:
    assert third_party_modules_loaded_by(name) == expected


def test_every_public_name_resolves_to_its_module_attribute() -> None:
    exports = etl_common._EXPORTS
    assert sorted(etl_common.__all__) == sorted(name for names in exports.values() for name in names)
    for module, names in exports.items():
        loaded = importlib.import_module(f"etl_common.{module}")
        for name in names:
            assert getattr(etl_common, name) is getattr(loaded, name), name
    assert set(etl_common.__all__) <= set(dir(etl_common))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_helper'"):
        _ = etl_common.no_such_helper
