"""Run parameters: declared types, required values, defaults, unknown names."""

from __future__ import annotations

import datetime as dt

import pytest
from etl_common import InputError, resolve_parameters
from etl_common.params import parse_timestamp

SPEC = {
    "name": "demo",
    "parameters": {
        "business_date": {"type": "date", "default": {"days_ago": 1}},
        "batch": {"type": "integer", "default": 3},
        "key": {"type": "string", "required": True, "max_length": 8},
    },
}
START = dt.datetime(2024, 3, 1, 0, 30, tzinfo=dt.UTC)


def test_defaults_and_coercion() -> None:
    assert resolve_parameters(SPEC, {"key": "k", "batch": "7"}, START) == {
        "business_date": "2024-02-29",
        "batch": 7,
        "key": "k",
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "parameter 'key' is required but was not given"),
        ({"key": "k", "colour": "x"}, "has no parameter colour (declared: batch, business_date, key)"),
        ({"key": "k", "batch": "seven"}, "'batch' must be an integer, not 'seven'"),
        ({"key": "k", "batch": True}, "'batch' must be an integer"),
        ({"key": "k", "business_date": "2024-02-30"}, "must be a date YYYY-MM-DD, not '2024-02-30'"),
        ({"key": "k", "business_date": "20240201"}, "must be a date YYYY-MM-DD"),
        ({"key": 5}, "'key' must be a string, not 5"),
        ({"key": "toolongvalue"}, "'key' is longer than 8 characters"),
    ],
)
def test_bad_parameters_name_the_pipeline_and_parameter(given: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        resolve_parameters(SPEC, given, START)
    assert "pipeline 'demo'" in str(caught.value)
    assert message in str(caught.value)


def test_step_functions_timestamps_parse() -> None:
    assert parse_timestamp("2024-03-01T00:30:00.123Z", "t") == dt.datetime(
        2024, 3, 1, 0, 30, 0, 123000, tzinfo=dt.UTC
    )
    with pytest.raises(InputError, match="start time 'yesterday' is not an ISO-8601 timestamp"):
        parse_timestamp("yesterday", "start time")
