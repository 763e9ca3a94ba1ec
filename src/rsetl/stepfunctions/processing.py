"""A state's input and output processing, chosen once per state by its query language.

JSONPath states filter with InputPath, Parameters, ResultSelector, ResultPath and OutputPath;
JSONata states with Arguments, Output and Assign over `$states` ("Processing input and output in
Step Functions", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html;
"Transforming data with JSONata in Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html). A state is built
with one :class:`Processing` holding only the fields its type reads, so nothing at run time asks
which language a state is written in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from rsetl.stepfunctions import errors, query
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.history import dumps
from rsetl.stepfunctions.intrinsics import evaluate_intrinsic
from rsetl.stepfunctions.paths import PathNotFound, apply_result_path, read_path, render_payload_template

if TYPE_CHECKING:
    from rsetl.stepfunctions.entry import StateEntry

Json = Any
"""A JSON value as the definition holds it."""

MissingPath = Callable[[str, PathNotFound], StatesError]
"""Builds the error for a `<field>Path` that selects nothing."""


@dataclass(frozen=True)
class Template:
    """A field holding a JSON template (Parameters, ResultSelector, Arguments, Output, Assign...).

    A state without the field has None in its place, so `"Output": null` stays a template of null.
    """

    value: Json
    field: str


@dataclass(frozen=True)
class FieldValue:
    """A field given directly (`Seconds`) or by reference (`SecondsPath`); `given`/`by_path` say which."""

    name: str
    value: Json = None
    given: bool = False
    path: Json = None
    by_path: bool = False

    @classmethod
    def of(cls, state: Mapping[str, Any], name: str) -> FieldValue:
        path_field = f"{name}Path"
        return cls(name, state.get(name), name in state, state.get(path_field), path_field in state)


def runtime_path_error(path: str, missing: PathNotFound) -> StatesError:
    """A reference path (InputPath, OutputPath, ItemsPath, TimeoutSecondsPath...) selecting nothing."""
    return StatesError(errors.RUNTIME, f"Invalid path '{path}' : {missing.reason}")


def read_reference(entry: StateEntry, path: str | None, data: Any) -> Any:
    """InputPath / OutputPath / ItemsPath: `$` passes the data as it is, null yields {}."""
    if path == "$":
        return data
    if path is None:
        return {}
    try:
        return read_path(path, data, entry.context(), entry.variables)
    except PathNotFound as exc:
        raise runtime_path_error(path, exc) from None


class Processing(Protocol):
    """What a state does with its input and result, in one query language."""

    def effective_input(self, entry: StateEntry) -> Any:
        """The input the state works on (InputPath applied, in JSONPath)."""
        ...

    def arguments(self, entry: StateEntry, effective: Any) -> Any:
        """What the state passes on to its work: Parameters or Arguments, else the effective input."""
        ...

    def output(self, entry: StateEntry, result: Any, /, **states: Any) -> Any:
        """The state's output from its result, with its assignments committed; `states` are the
        extra `$states` fields the JSONata fields see (`result`, `errorOutput`)."""
        ...

    def field(
        self, entry: StateEntry, value: FieldValue, data: Any, missing: MissingPath | None = None
    ) -> Any:
        """A field's value: given, through `<field>Path` (or an intrinsic) on `data`, else None."""
        ...

    def field_error(self, field_name: str, cause: str) -> StatesError:
        """A field's value AWS refuses at run time."""
        ...

    def render(self, entry: StateEntry, template: Template, data: Any) -> Any:
        """A template (ItemSelector) filled from `data` or `$states`."""
        ...

    def map_items(self, entry: StateEntry, items: FieldValue, effective: Any) -> Any:
        """A Map state's items, before the check that they form an array."""
        ...

    def not_an_array(self, cause: str) -> StatesError:
        """The error of Map items that are not an array."""
        ...

    def with_outcome(self, output: Template | None, assign: Template | None) -> Processing:
        """The same processing with a Choice rule's own Output and Assign in place of the state's."""
        ...


def _field_by_path(entry: StateEntry, value: FieldValue, data: Any, missing: MissingPath | None) -> Any:
    path = value.path
    if isinstance(path, str) and path.startswith("States."):
        return evaluate_intrinsic(path, data, entry.context(), entry.variables)
    try:
        return read_path(path, data, entry.context(), entry.variables)
    except PathNotFound as exc:
        raise (missing or runtime_path_error)(path, exc) from None


def _assignments(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise StatesError(errors.RUNTIME, "Assign must be a JSON object")
    return values


@dataclass(frozen=True)
class JsonPathProcessing:
    """InputPath -> Parameters -> (work) -> ResultSelector -> Assign -> ResultPath -> OutputPath."""

    input_path: str | None = "$"
    parameters: Template | None = None
    result_selector: Template | None = None
    result_path: str | None = "$"
    output_path: str | None = "$"
    assign: Template | None = None

    def effective_input(self, entry: StateEntry) -> Any:
        return read_reference(entry, self.input_path, entry.raw_input)

    def arguments(self, entry: StateEntry, effective: Any) -> Any:
        return effective if self.parameters is None else self.render(entry, self.parameters, effective)

    def output(self, entry: StateEntry, result: Any, /, **states: Any) -> Any:
        entry.assigned = {}
        if self.result_selector is not None:
            result = self.render(entry, self.result_selector, result)
        if self.assign is not None:
            entry.assigned.update(_assignments(self.render(entry, self.assign, result)))
        combined = apply_result_path(entry.raw_input, result, self.result_path, absent=False)
        output = read_reference(entry, self.output_path, combined)
        entry.commit_assignments()
        return output

    def field(
        self, entry: StateEntry, value: FieldValue, data: Any, missing: MissingPath | None = None
    ) -> Any:
        if value.given:
            return value.value
        return _field_by_path(entry, value, data, missing) if value.by_path else None

    def field_error(self, field_name: str, cause: str) -> StatesError:
        return StatesError(errors.RUNTIME, cause)

    def render(self, entry: StateEntry, template: Template, data: Any) -> Any:
        return render_payload_template(
            template.value, data, entry.context(), entry.variables, evaluate_intrinsic, template.field
        )

    def map_items(self, entry: StateEntry, items: FieldValue, effective: Any) -> Any:
        if items.by_path:
            try:
                return read_path(items.path, effective, entry.context(), entry.variables)
            except PathNotFound as exc:
                raise runtime_path_error(items.path, exc) from None
        return items.value if items.given else effective

    def not_an_array(self, cause: str) -> StatesError:
        return StatesError(errors.RUNTIME, cause)

    def with_outcome(self, output: Template | None, assign: Template | None) -> Processing:
        return replace(self, assign=assign)


@dataclass(frozen=True)
class JsonataProcessing:
    """(Arguments) -> work -> Output and Assign, each evaluated over `$states` and the variables."""

    arguments_template: Template | None = None
    output_template: Template | None = None
    assign: Template | None = None

    def effective_input(self, entry: StateEntry) -> Any:
        return entry.raw_input

    def arguments(self, entry: StateEntry, effective: Any) -> Any:
        if self.arguments_template is None:
            return effective
        return query.render(self.arguments_template.value, entry.bindings(), "Arguments")

    def output(self, entry: StateEntry, result: Any, /, **states: Any) -> Any:
        entry.assigned = {}
        output = result
        if self.output_template is not None:
            output = query.render(self.output_template.value, entry.bindings(**states), "Output")
        if self.assign is not None:
            values = query.render(self.assign.value, entry.bindings(**states), "Assign")
            entry.assigned.update(_assignments(values))
        entry.commit_assignments()
        return output

    def field(
        self, entry: StateEntry, value: FieldValue, data: Any, missing: MissingPath | None = None
    ) -> Any:
        if value.given:
            if query.is_expression(value.value):
                return query.evaluate(value.value, entry.bindings(), value.name)
            return value.value
        return _field_by_path(entry, value, data, missing) if value.by_path else None

    def field_error(self, field_name: str, cause: str) -> StatesError:
        return query.QueryEvaluationError(cause, field_name)

    def render(self, entry: StateEntry, template: Template, data: Any) -> Any:
        return query.render(template.value, entry.bindings(), template.field)

    def map_items(self, entry: StateEntry, items: FieldValue, effective: Any) -> Any:
        if query.is_expression(items.value):
            found = query.evaluate(items.value, entry.bindings(), "Items")
            if not isinstance(found, list):
                raise query.QueryEvaluationError(
                    f"The JSONata expression '{query.expression_text(items.value)}' specified for the "
                    f"field 'Items' returned an unexpected result type. Expected 'array', but was "
                    f"'{query.json_type(found)}' for value: {dumps(found)}",
                    "Items",
                )
            return found
        if isinstance(items.value, list):
            return query.render(items.value, entry.bindings(), "Items")
        return items.value if items.given else effective

    def not_an_array(self, cause: str) -> StatesError:
        return query.QueryEvaluationError(cause)

    def with_outcome(self, output: Template | None, assign: Template | None) -> Processing:
        return replace(self, output_template=output or self.output_template, assign=assign)
