"""Intrinsic functions whose results are random, and the parser's error messages."""

from __future__ import annotations

import re

import pytest

from rsetl.stepfunctions import StatesError
from rsetl.stepfunctions.intrinsics import evaluate_intrinsic


def call(expression: str, data: object = None) -> object:
    return evaluate_intrinsic(expression, data, {}, {})


def test_uuid_is_a_version_4_uuid() -> None:
    first, second = call("States.UUID()"), call("States.UUID()")
    assert isinstance(first, str)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


def test_math_random_stays_in_range_and_a_seed_repeats() -> None:
    values = {call("States.MathRandom(1, 5)") for _ in range(200)}
    assert values <= {1, 2, 3, 4}
    assert call("States.MathRandom(1, 999, 7)") == call("States.MathRandom(1, 999, 7)")


def test_base64_input_limit() -> None:
    with pytest.raises(StatesError, match="at most 10000 characters"):
        call("States.Base64Encode($.s)", {"s": "x" * 10_001})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("States.Format('open", "unterminated string literal"),
        ("States.Array(1, 2", "missing ')'"),
        ("Foo.Bar()", "expected a function name starting with 'States.'"),
        ("States.Array(1) trailing", "unexpected text after the closing parenthesis"),
        ("States.Array(nope)", "unexpected argument 'nope'"),
        ("States.ArrayLength($.missing)", "Invalid path '$.missing'"),
        ("States.MathAdd('1', 1)", 'the first value must be a number, got "1"'),
        ("States.MathAdd(2147483648, 1)", "the values must be between -2147483648 and 2147483647"),
    ],
)
def test_bad_calls_are_intrinsic_failures_that_say_why(expression: str, message: str) -> None:
    with pytest.raises(StatesError) as error:
        call(expression, {})
    assert error.value.error == "States.IntrinsicFailure"
    assert message in error.value.cause
