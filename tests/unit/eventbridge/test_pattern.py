"""Event pattern matching and validation, with cases from the Amazon EventBridge user guide.

Each case names the user guide section it comes from.
"""

from __future__ import annotations

from typing import Any

import pytest

from rsetl.eventbridge import EventPattern, InvalidEventPatternException

# "Creating event patterns" (eb-event-patterns): the EC2 example event.
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}

# "Matching events on null values and empty strings" (eb-event-patterns-null-values).
NULL_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}

# "Comparison operators" (eb-create-pattern-operators): the Ruler-style example with numbers and an IP.
NUMERIC_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
        "flag": True,
        "tags": ["prod", "eu", 7],
    },
}

# "Array matching": an array of objects; fields must come from the same element.
EMPLOYEES_EVENT: dict[str, Any] = {
    "detail": {
        "employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            [{"firstName": "Peter", "lastName": "Jones"}],
        ]
    }
}


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern(pattern).matches(event)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # eb-event-patterns: source + detail-type + detail.state
        (
            {
                "source": ["aws.ec2"],
                "detail-type": ["EC2 Instance State-change Notification"],
                "detail": {"state": ["terminated"]},
            },
            True,
        ),
        ({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, False),
        # values in one list are OR-ed
        ({"detail": {"state": ["running", "terminated"]}}, True),
        # matching is exact, case-sensitive
        ({"source": ["AWS.EC2"]}, False),
        # a field the event lacks never matches a value
        ({"detail": {"missing": ["x"]}}, False),
        # event arrays match when any element matches (resources)
        ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}, True),
        ({"resources": ["arn:other"]}, False),
        # eb-create-pattern-operators: prefix
        ({"region": [{"prefix": "us-"}]}, True),
        ({"region": [{"prefix": "eu-"}]}, False),
        ({"time": [{"prefix": "2017-12-22"}]}, True),
        # prefix / suffix ignoring case
        ({"source": [{"prefix": {"equals-ignore-case": "AWS."}}]}, True),
        ({"source": [{"suffix": {"equals-ignore-case": "EC2"}}]}, True),
        ({"source": [{"suffix": "EC2"}]}, False),
        ({"source": [{"suffix": "ec2"}]}, True),
        # equals-ignore-case
        ({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}, True),
        ({"detail": {"state": [{"equals-ignore-case": "TERMINATE"}]}}, False),
        # wildcard
        ({"resources": [{"wildcard": "arn:aws:ec2:*:*:instance/*"}]}, True),
        ({"resources": [{"wildcard": "arn:aws:s3:*"}]}, False),
        ({"detail": {"instance-id": [{"wildcard": "i-*f0"}]}}, True),
        # anything-but
        ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
        ({"detail": {"state": [{"anything-but": "terminated"}]}}, False),
        ({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, True),
        ({"detail": {"state": [{"anything-but": {"suffix": "ated"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["A", "B"]}}]}}, True),
        ({"detail": {"state": [{"anything-but": {"wildcard": "term*"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"wildcard": ["x*", "y*"]}}]}}, True),
        # anything-but needs the field to be present
        ({"detail": {"missing": [{"anything-but": "x"}]}}, False),
        # exists
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"missing": [{"exists": True}]}}, False),
        # exists:false also matches when a parent object is absent
        ({"nothing": {"below": [{"exists": False}]}}, True),
        # a leaf pattern never matches an object (exists works on leaf nodes only)
        ({"detail": [{"exists": True}]}, False),
        ({"detail": [{"exists": False}]}, True),
        # $or at the top level and nested
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["terminated"]}}]}, True),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]}, False),
        (
            {
                "source": ["aws.ec2"],
                "detail": {"$or": [{"state": ["x"]}, {"instance-id": [{"prefix": "i-"}]}]},
            },
            True,
        ),
    ],
)
def test_user_guide_patterns_against_ec2_event(pattern: dict[str, Any], expected: bool) -> None:
    assert _matches(pattern, EC2_EVENT) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # eb-event-patterns-null-values
        ({"detail": {"eventVersion": [""]}}, True),
        ({"detail": {"responseElements": [None]}}, True),
        # null and empty string are not interchangeable
        ({"detail": {"eventVersion": [None]}}, False),
        ({"detail": {"responseElements": [""]}}, False),
        # a null-valued field exists
        ({"detail": {"responseElements": [{"exists": True}]}}, True),
        # an empty array holds no value
        ({"resources": [{"exists": False}]}, True),
        ({"resources": [""]}, False),
        # anything-but matches a null value: null is not the excluded string
        ({"detail": {"responseElements": [{"anything-but": "x"}]}}, True),
    ],
)
def test_null_and_empty_string(pattern: dict[str, Any], expected: bool) -> None:
    assert _matches(pattern, NULL_EVENT) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # eb-create-pattern-operators: numeric matching
        ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}, False),
        ({"detail": {"d-count": [{"numeric": ["<", 10]}]}}, True),
        ({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}, True),
        ({"detail": {"x-limit": [{"numeric": [">=", 301.8]}]}}, True),
        ({"detail": {"x-limit": [{"numeric": [">", 301.8]}]}}, False),
        # numeric matching works on JSON numbers only
        ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),
        ({"detail": {"flag": [{"numeric": [">", 0]}]}}, False),
        # exact number values compare as numbers
        ({"detail": {"c-count": [5.0]}}, True),
        ({"detail": {"c-count": ["5"]}}, False),
        # booleans are exact literals, not numbers
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"flag": [1]}}, False),
        ({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, True),
        ({"detail": {"x-limit": [{"anything-but": 301.8}]}}, False),
        # IP address matching
        ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
        ({"detail": {"source-ip": [{"cidr": "2001:db8::/32"}]}}, False),
        ({"detail": {"state": [{"cidr": "10.0.0.0/8"}]}}, False),
        # mixed arrays in the event: any element
        ({"detail": {"tags": ["eu"]}}, True),
        ({"detail": {"tags": [7]}}, True),
        ({"detail": {"tags": [{"numeric": [">", 6]}]}}, True),
        # complex example from the operators page
        (
            {
                "time": [{"prefix": "2017-10-02"}],
                "detail": {
                    "state": [{"anything-but": "initializing"}],
                    "c-count": [{"numeric": [">", 0, "<=", 5]}],
                    "d-count": [{"numeric": ["<", 10]}],
                    "x-limit": [{"anything-but": [100, 200, 300]}],
                    "source-ip": [{"cidr": "10.0.0.0/8"}],
                },
            },
            True,
        ),
    ],
)
def test_numeric_cidr_and_arrays(pattern: dict[str, Any], expected: bool) -> None:
    assert _matches(pattern, NUMERIC_EVENT) is expected


def test_ipv6_cidr() -> None:
    event = {"detail": {"ip": "2001:db8::1"}}
    assert _matches({"detail": {"ip": [{"cidr": "2001:db8::/32"}]}}, event)
    assert not _matches({"detail": {"ip": [{"cidr": "10.0.0.0/8"}]}}, event)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # array matching: the array structure is flattened
        ({"detail": {"employees": {"firstName": ["Anna"]}}}, True),
        ({"detail": {"employees": {"firstName": ["Peter"]}}}, True),
        # fields of one match must come from the same array element
        ({"detail": {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}}, True),
        ({"detail": {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}}, False),
    ],
)
def test_array_consistent_matching(pattern: dict[str, Any], expected: bool) -> None:
    assert _matches(pattern, EMPLOYEES_EVENT) is expected


@pytest.mark.parametrize(
    ("wildcard", "value", "expected"),
    [
        ("*.png", "dir/file.png", True),
        ("*.png", "file.jpg", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("literal\\*star", "literal*star", True),
        ("literal\\*star", "literalXstar", False),
        ("back\\\\slash", "back\\slash", True),
        ("", "", True),
    ],
)
def test_wildcard(wildcard: str, value: str, expected: bool) -> None:
    assert _matches({"v": [{"wildcard": wildcard}]}, {"v": value}) is expected


def test_or_with_and_inside() -> None:
    # eb-create-pattern-operators, "$or": (source AND (metricName OR (metricType AND namespace)))
    pattern = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]},
        ],
    }
    compiled = EventPattern(pattern)
    assert compiled.matches({"source": "aws.cloudwatch", "metricName": "ReadLatency"})
    assert compiled.matches({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES"})
    assert not compiled.matches({"source": "aws.cloudwatch", "metricType": "MetricType"})
    assert not compiled.matches({"source": "aws.s3", "metricName": "ReadLatency"})


def test_pattern_from_json_text_and_round_trip() -> None:
    text = '{"source": ["rsetl.pipeline"], "detail": {"state": ["SUCCEEDED"]}}'
    pattern = EventPattern(text)
    assert pattern.matches({"source": "rsetl.pipeline", "detail": {"state": "SUCCEEDED"}})
    assert not pattern.matches({"source": "rsetl.pipeline", "detail": {"state": "FAILED"}})
    assert EventPattern(pattern.to_json()).source == pattern.source


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[1]", "Filter is not an object"),
        ("{not json", "not valid JSON"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, 'Empty objects are not allowed at "detail"'),
        ({"source": "aws.ec2"}, '"source" must be an object or an array at "source"'),
        ({"detail": {"pipeline": {"slug": "x"}}}, '"slug" must be an object or an array'),
        ({"detail-type": []}, 'Empty arrays are not allowed at "detail-type"'),
        ({"a": [["x"]]}, "Match value must be String, number, true, false, or null"),
        ({"a": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"a": [{"suffix": None}]}, "suffix match pattern must be a string"),
        ({"a": [{"equals-ignore-case": 3}]}, "equals-ignore-case match pattern must be a string"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [{}]}, "Match expression name not found"),
        ({"a": [{"regex": "x"}]}, "Unrecognized match type regex"),
        ({"a": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 2"),
        ({"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 1"),
        ({"a": [{"cidr": "10.0.0.0/99"}]}, "Malformed CIDR, 10.0.0.0/99"),
        ({"a": [{"numeric": 5}]}, "Value of numeric must be an array."),
        ({"a": [{"numeric": [5, ">"]}]}, "Invalid member in numeric match: 5"),
        ({"a": [{"numeric": ["!", 5]}]}, "Unrecognized numeric range operator: !"),
        ({"a": [{"numeric": [">", "5"]}]}, "Value of > must be numeric"),
        ({"a": [{"numeric": [">", 5, ">", 6]}]}, "Bad numeric range operator: >"),
        ({"a": [{"numeric": [">", 5, "<"]}]}, "Too many elements in numeric expression"),
        ({"a": [{"numeric": [">", 10, "<", 5]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": ["<", 6e9]}]}, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        ({"a": [{"anything-but": ["x", 1]}]}, "mixed type is not supported"),
        ({"a": [{"anything-but": [None]}]}, "start|null|boolean is not supported"),
        ({"a": [{"anything-but": []}]}, "Empty arrays are not allowed"),
        ({"a": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed"),
        ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "Unsupported anything-but pattern: numeric"),
        ({"a": [{"anything-but": {"wildcard": [1]}}]}, "anything-but/wildcard list"),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": {"a": ["x"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["x"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        ({"$or": [{"a": ["x"]}, {"prefix": ["b"]}]}, "prefix is Ruler reserved fieldName"),
    ],
)
def test_invalid_patterns(pattern: Any, reason: str) -> None:
    with pytest.raises(InvalidEventPatternException) as caught:
        EventPattern(pattern)
    assert caught.value.code == "InvalidEventPatternException"
    assert caught.value.message.startswith("Event pattern is not valid. Reason: ")
    assert reason in caught.value.message
