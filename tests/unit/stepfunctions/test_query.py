"""JSONata evaluation: null is a value, undefined is an error; Step Functions' functions refuse bad input.

"Transforming data with JSONata in Step Functions"
(https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
"""

from __future__ import annotations

import pytest

from rsetl.stepfunctions import query

BINDINGS = {"states": {"input": {"a": None, "items": [1, 2, 3]}}, "nothing": None}


def test_null_is_a_value_and_not_undefined() -> None:
    assert query.evaluate("{% null %}", BINDINGS, "Output") is None
    assert query.evaluate("{% $states.input.a %}", BINDINGS, "Output") is None
    assert query.evaluate("{% $nothing %}", BINDINGS, "Output") is None
    assert query.evaluate("{% {'k': $states.input.a} %}", BINDINGS, "Output") == {"k": None}


def test_undefined_names_the_field() -> None:
    with pytest.raises(query.QueryEvaluationError) as error:
        query.render({"deep": {"x": "{% $states.input.missing %}"}}, BINDINGS, "Output")
    assert error.value.location == "Output/deep/x"
    assert error.value.cause == (
        "The JSONata expression '$states.input.missing' specified for the field 'Output/deep/x' "
        "returned nothing (undefined)."
    )


def test_a_plain_json_value_is_returned_as_it_is() -> None:
    assert query.evaluate(True, BINDINGS, "Condition") is True
    assert query.evaluate("text", BINDINGS, "Output") == "text"


def test_a_variable_cannot_hide_a_step_functions_function() -> None:
    bindings = {**BINDINGS, "uuid": "not a function"}
    assert len(query.evaluate("{% $uuid() %}", bindings, "Output")) == 36


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("$partition($states.input.items, 0)", "the chunk size must be a positive integer"),
        ("$partition('abc', 2)", "the first argument must be an array, got string"),
        ("$range(0, 5, 0)", "step must not be 0"),
        ("$range(1, 1001, 1)", "more than 1000 items"),
        ("$hash('abc', 'SHA-3')", "the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
        ("$parse('{nope')", "$parse: not valid JSON"),
    ],
)
def test_step_functions_functions_refuse_bad_arguments(expression: str, reason: str) -> None:
    with pytest.raises(query.QueryEvaluationError) as error:
        query.evaluate("{% " + expression + " %}", BINDINGS, "Output")
    assert error.value.error == "States.QueryEvaluationError"
    assert f"'{expression}' specified for the field 'Output' threw an error during evaluation." in (
        error.value.cause
    )
    assert reason in error.value.cause
