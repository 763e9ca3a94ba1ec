"""Target input: Input, InputPath and InputTransformer.

User guide: "Amazon EventBridge input transformation"; API reference: InputTransformer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rsetl.eventbridge import ValidationException
from rsetl.eventbridge.transform import RuleContext, render_target_input, validate_target_input

# The EC2 event of the "Input transform examples" section.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "count": 3, "tags": {"a": "b"}},
}
RULE = RuleContext("arn:aws:events:us-east-1:123456789012:rule/r1", "r1", "2015-11-11T21:29:55Z")


def _render(target: dict[str, Any]) -> str:
    validate_target_input({"Id": "t", **target})
    return render_target_input(target, EVENT, RULE)


def test_whole_event_by_default() -> None:
    assert json.loads(_render({})) == EVENT


def test_constant_input() -> None:
    assert json.loads(_render({"Input": '{"business_date": "2026-01-01"}'})) == {
        "business_date": "2026-01-01"
    }


def test_input_path() -> None:
    assert json.loads(_render({"InputPath": "$.detail"})) == EVENT["detail"]
    assert json.loads(_render({"InputPath": "$.detail.instance-id"})) == "i-0123456789"


def test_transformer_json_template_with_values_in_and_out_of_strings() -> None:
    # API reference, InputTransformer: variables in quotes or out.
    output = _render(
        {
            "InputTransformer": {
                "InputPathsMap": {"instance": "$.detail.instance-id", "status": "$.detail.state"},
                "InputTemplate": (
                    '{"myInstance": <instance>, "myStatus": "<instance> is in state \\"<status>\\""}'
                ),
            }
        }
    )
    assert json.loads(output) == {
        "myInstance": "i-0123456789",
        "myStatus": 'i-0123456789 is in state "RUNNING"',
    }


def test_transformer_string_template_is_sent_as_json_string() -> None:
    output = _render(
        {
            "InputTransformer": {
                "InputPathsMap": {"instance": "$.detail.instance-id", "status": "$.detail.state"},
                "InputTemplate": '<instance> is in state "<status>"',
            }
        }
    )
    assert json.loads(output) == 'i-0123456789 is in state "RUNNING"'


def test_transformer_quoted_string_template() -> None:
    output = _render(
        {
            "InputTransformer": {
                "InputPathsMap": {"instance": "$.detail.instance-id"},
                "InputTemplate": '"instance <instance> count <count>"',
            }
        }
    )
    assert json.loads(output) == "instance i-0123456789 count <count>"


def test_transformer_non_string_values_and_reserved_variables() -> None:
    output = _render(
        {
            "InputTransformer": {
                "InputPathsMap": {
                    "count": "$.detail.count",
                    "tags": "$.detail.tags",
                    "none": "$.detail.nope",
                },
                "InputTemplate": (
                    '{"count": <count>, "tags": <tags>, "tagsText": "<tags>", "none": <none>, '
                    '"noneText": "<none>", "rule": "<aws.events.rule-name>", "arn": "<aws.events.rule-arn>", '
                    '"at": "<aws.events.event.ingestion-time>", "event": <aws.events.event>, '
                    '"full": <aws.events.event.json>}'
                ),
            }
        }
    )
    result = json.loads(output)
    assert result["count"] == 3
    assert result["tags"] == {"a": "b"}
    assert json.loads(result["tagsText"]) == {"a": "b"}
    assert result["none"] is None
    assert result["noneText"] == ""
    assert (result["rule"], result["arn"], result["at"]) == ("r1", RULE.rule_arn, RULE.ingestion_time)
    assert "detail" not in result["event"] and result["event"]["id"] == EVENT["id"]
    assert result["full"] == EVENT


def test_transformer_escapes_values_inside_strings() -> None:
    event = {**EVENT, "detail": {"text": 'say "hi"\n'}}
    target = {"InputTransformer": {"InputPathsMap": {"t": "$.detail.text"}, "InputTemplate": '{"m": "<t>!"}'}}
    assert json.loads(render_target_input(target, event, RULE)) == {"m": 'say "hi"\n!'}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"Input": "{not json"}, "Input is not valid JSON"),
        ({"Input": "{}", "InputPath": "$.detail"}, "only one of Input, InputPath and InputTransformer"),
        ({"InputPath": "detail"}, "Invalid JSON path 'detail'"),
        ({"InputTransformer": {"InputPathsMap": {}, "InputTemplate": ""}}, "non-empty InputTemplate"),
        (
            {"InputTransformer": {"InputPathsMap": {"aws.x": "$.id"}, "InputTemplate": "<aws.x>"}},
            "reserved prefix 'aws.'",
        ),
        ({"InputTransformer": {"InputPathsMap": {"a b": "$.id"}, "InputTemplate": "x"}}, "may only contain"),
        (
            {"InputTransformer": {"InputPathsMap": {"a": "$.id"}, "InputTemplate": '{"a": <a>'}},
            "InputTemplate is not valid JSON",
        ),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {f"v{i}": "$.id" for i in range(101)},
                    "InputTemplate": "x",
                }
            },
            "at most 100",
        ),
    ],
)
def test_invalid_target_input(target: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        validate_target_input({"Id": "t1", **target})
    assert message in caught.value.message
    assert caught.value.code == "ValidationException"
