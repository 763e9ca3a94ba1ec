"""Intrinsic functions (`States.Format(...)` and friends) for JSONPath states.

Parsed by a small recursive-descent parser following the grammar in the Step Functions
developer guide ("Intrinsic functions"): arguments are string literals in single quotes,
numbers, booleans, null, JSONPaths (`$`, `$$`, `$variable`) or nested intrinsic calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rsetl.stepfunctions import errors
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.intrinsic_functions import FUNCTIONS
from rsetl.stepfunctions.paths import PathNotFound, read_path


class _Call:
    def __init__(self, name: str, args: list[Any]) -> None:
        self.name = name
        self.args = args


class _Path:
    def __init__(self, path: str) -> None:
        self.path = path


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> StatesError:
        return StatesError(
            errors.INTRINSIC_FAILURE,
            f"Invalid intrinsic function {self.text!r} at offset {self.pos}: {reason}",
        )

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> _Call:
        call = self.call()
        self.skip_spaces()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the closing parenthesis")
        return call

    def call(self) -> _Call:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "._"):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name.startswith("States."):
            raise self.fail(f"expected a function name starting with 'States.', got {name!r}")
        self.skip_spaces()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail("expected '('")
        self.pos += 1
        args: list[Any] = []
        self.skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
            return _Call(name, args)
        while True:
            self.skip_spaces()
            args.append(self.argument())
            self.skip_spaces()
            if self.pos >= len(self.text):
                raise self.fail("missing ')'")
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            if self.text[self.pos] == ")":
                self.pos += 1
                return _Call(name, args)
            raise self.fail(f"unexpected character {self.text[self.pos]!r}")

    def argument(self) -> Any:
        if self.pos >= len(self.text):
            raise self.fail("missing argument")
        char = self.text[self.pos]
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call()
        start = self.pos
        while (
            self.pos < len(self.text)
            and self.text[self.pos] not in ",)"
            and not self.text[self.pos].isspace()
        ):
            self.pos += 1
        token = self.text[start : self.pos]
        literals = {"true": True, "false": False, "null": None}
        if token in literals:
            return literals[token]
        try:
            number = json.loads(token)
        except ValueError:
            raise self.fail(f"unexpected argument {token!r}") from None
        if not isinstance(number, int | float):
            raise self.fail(f"unexpected argument {token!r}")
        return number

    def string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                # `\{` and `\}` stay escaped: States.Format treats them as literal braces.
                chars.append(nxt if nxt in "'\\" else "\\" + nxt)
                self.pos += 2
                continue
            if char == "'":
                self.pos += 1
                return "".join(chars)
            chars.append(char)
            self.pos += 1
        raise self.fail("unterminated string literal")

    def path(self) -> _Path:
        start = self.pos
        depth = 0
        quote = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "'" and depth:
                quote = not quote
            elif not quote and char in "[(":
                depth += 1
            elif not quote and char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif not quote and depth == 0 and (char == "," or char.isspace()):
                break
            self.pos += 1
        return _Path(self.text[start : self.pos])


def evaluate_intrinsic(
    expression: str,
    data: Any,
    context: Mapping[str, Any],
    variables: Mapping[str, Any],
) -> Any:
    """Evaluate one intrinsic function call against the state's data."""
    return _evaluate(_Parser(expression).parse(), data, context, variables, expression)


def _evaluate(
    node: Any, data: Any, context: Mapping[str, Any], variables: Mapping[str, Any], text: str
) -> Any:
    if isinstance(node, _Path):
        try:
            return read_path(node.path, data, context, variables)
        except PathNotFound:
            raise StatesError(
                errors.INTRINSIC_FAILURE,
                f"Invalid path '{node.path}' in intrinsic function {text!r}: no value found",
            ) from None
    if isinstance(node, _Call):
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise StatesError(
                errors.INTRINSIC_FAILURE, f"Unknown intrinsic function {node.name!r} in {text!r}"
            )
        args = [_evaluate(arg, data, context, variables, text) for arg in node.args]
        try:
            return function(*args)
        except StatesError:
            raise
        except TypeError as exc:
            raise StatesError(errors.INTRINSIC_FAILURE, f"Invalid arguments in {node.name}: {exc}") from None
    return node
