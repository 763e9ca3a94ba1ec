"""Sample events and inputs validate against their schemas; bad ones are rejected clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from etl_common import EventValidationError, validate_event
from etl_common.schemas import schema_errors, schema_validator

REPO = Path(__file__).resolve().parents[3]
EVENTS = REPO / "events"
SCHEMAS = sorted((REPO / "pipelines" / "schemas").glob("*.schema.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schemas_are_valid_json_schemas(path: Path) -> None:
    schema_validator(path.name.removesuffix(".schema.json"))


@pytest.mark.parametrize("path", sorted(EVENTS.glob("pipeline-*.json")), ids=lambda p: p.name)
def test_sample_completion_events_validate(path: Path) -> None:
    validate_event(json.loads(path.read_text()))


@pytest.mark.parametrize("path", sorted(EVENTS.glob("start-*.json")), ids=lambda p: p.name)
def test_sample_start_inputs_validate(path: Path) -> None:
    assert schema_errors("start-input", json.loads(path.read_text())) == []


def test_every_sample_event_is_checked() -> None:
    names = {p.name for p in EVENTS.glob("*.json")}
    assert names == {p.name for p in EVENTS.glob("pipeline-*.json")} | {
        p.name for p in EVENTS.glob("start-*.json")
    } | {p.name for p in EVENTS.glob("s3-*.json")}


def test_success_event_claiming_failure_is_rejected() -> None:
    event = load("pipeline-succeeded-ingest-sales.json")
    event["detail"]["state"] = "FAILED"
    with pytest.raises(EventValidationError, match=r"detail\.state: 'SUCCEEDED' was expected"):
        validate_event(event)


def test_failure_event_must_name_step_and_error() -> None:
    event = load("pipeline-failed-ingest-sales.json")
    del event["detail"]["error"]
    event["detail"]["step"] = 7
    with pytest.raises(EventValidationError) as caught:
        validate_event(event)
    assert "detail: 'error' is a required property" in str(caught.value)
    assert "detail.step: 7 is not of type 'string', 'null'" in str(caught.value)


def test_unknown_detail_type_is_rejected() -> None:
    with pytest.raises(EventValidationError, match="'Pipeline Paused' is not one the product emits"):
        validate_event({"source": "rsetl.pipeline", "detail-type": "Pipeline Paused", "detail": {}})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "(top level): 'pipeline' is a required property"),
        ({"pipeline": "Ingest Sales"}, "pipeline: 'Ingest Sales' does not match"),
        ({"pipeline": "x", "parameters": {"a": [1]}}, "parameters.a: [1] is not of type 'string', 'integer'"),
        ({"pipeline": "x", "extra": 1}, "'extra' was unexpected"),
    ],
)
def test_bad_start_inputs_are_rejected(document: dict[str, Any], message: str) -> None:
    assert any(message in error for error in schema_errors("start-input", document))


INVALID = json.loads((REPO / "tests" / "events" / "invalid-events.json").read_text())


@pytest.mark.parametrize("case", INVALID, ids=[case["why"] for case in INVALID])
def test_invalid_event_fixtures_are_rejected_with_their_message(case: dict[str, Any]) -> None:
    with pytest.raises(EventValidationError) as caught:
        validate_event(case["event"])
    assert case["expect"] in str(caught.value)
