"""The Parallel and Map states: branches of states run over one input or over each item.

"Parallel workflow state" (https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html)
and "Map workflow state" (https://docs.aws.amazon.com/step-functions/latest/dg/state-map.html).
Branches run one after the other on a virtual clock, so that virtual time stays deterministic.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rsetl.stepfunctions import errors
from rsetl.stepfunctions.entry import BranchCancelled, StateEntry
from rsetl.stepfunctions.exceptions import StatesError
from rsetl.stepfunctions.history import dumps
from rsetl.stepfunctions.processing import FieldValue, Template
from rsetl.stepfunctions.states import Program, RecoveringState, shown

if TYPE_CHECKING:
    from rsetl.stepfunctions.interpreter import Run

INLINE_MAP_MAX_CONCURRENCY = 40

Job = Callable[[threading.Event], Any]
"""One branch or iteration, given the flag that cancels it when a sibling fails."""


def run_all(run: Run, jobs: list[Job], limit: int) -> list[Any]:
    """Run branch jobs, concurrently unless the clock is virtual; first failure wins."""
    cancel = threading.Event()
    if not run.interpreter.concurrent_branches or len(jobs) <= 1:
        return [job(cancel) for job in jobs]
    results: list[Any] = [None] * len(jobs)
    failures: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            results[index] = jobs[index](cancel)
        except BranchCancelled:
            pass
        except BaseException as exc:
            failures.append(exc)
            cancel.set()

    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(jobs)))) as pool:
        list(pool.map(guarded, range(len(jobs))))
    if failures:
        raise failures[0]
    return results


@dataclass(frozen=True)
class ParallelState(RecoveringState):
    """Runs each branch on (a copy of) its input; the result is the array of their outputs."""

    type: ClassVar[str] = "Parallel"
    has_result: ClassVar[bool] = True
    branches: tuple[Program, ...]

    def work(self, entry: StateEntry, effective: Any) -> Any:
        run = entry.run
        branch_input = self.processing.arguments(entry, effective)
        run.history.add("ParallelStateStarted")

        def job(branch: Program) -> Job:
            return lambda cancel: run.run_branch(
                branch, copy.deepcopy(branch_input), entry.frame.child(cancel)
            )

        try:
            result = run_all(run, [job(branch) for branch in self.branches], len(self.branches))
        except StatesError:
            run.history.add("ParallelStateFailed")
            raise
        run.history.add("ParallelStateSucceeded")
        return result


def _number(value: Any, *, integer: bool) -> int | float | None:
    """`value` as an integer (or, unless `integer`, any number), also from a string; None if it is not."""
    if isinstance(value, str):
        try:
            value = json.loads(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        return None
    return value


@dataclass(frozen=True)
class MapState(RecoveringState):
    """Runs its item processor on each item (inline); the result is the array of their outputs."""

    type: ClassVar[str] = "Map"
    has_result: ClassVar[bool] = True
    processor: Program
    items: FieldValue
    """Items (or ItemsPath, in JSONPath): where the items are; by default the effective input."""
    selector: Template | None
    """ItemSelector (or its older name Parameters): each item's input, filled per item."""
    distributed: bool
    tolerated_count: FieldValue
    tolerated_percentage: FieldValue
    max_concurrency: FieldValue

    def work(self, entry: StateEntry, effective: Any) -> Any:
        run = entry.run
        try:
            items = self.processing.map_items(entry, self.items, effective)
            if not isinstance(items, list):
                raise self.processing.not_an_array(
                    f"Map state input must be an array but was: {dumps(items)}"
                )
            tolerated = self._tolerance(entry, len(items), effective)
            max_concurrency = self._number(entry, self.max_concurrency, effective, integer=True) or 0
            if max_concurrency < 0:
                raise self.processing.field_error("MaxConcurrency", "MaxConcurrency cannot be negative.")
        except StatesError as exc:
            # AWS records the failure, then MapStateFailed, before the execution fails.
            entry.record_failure(exc)
            run.history.add("MapStateFailed")
            raise
        limit = min(int(max_concurrency) or INLINE_MAP_MAX_CONCURRENCY, INLINE_MAP_MAX_CONCURRENCY)
        run.history.add("MapStateStarted", {"length": len(items)})
        failed: list[StatesError] = []

        def job(index: int) -> Job:
            def iterate(cancel: threading.Event) -> Any:
                item = {"Index": index, "Value": items[index]}
                iteration = {"name": self.name, "index": index}
                run.history.add("MapIterationStarted", iteration)
                try:
                    value = run.run_branch(
                        self.processor,
                        self._item_input(entry, effective, item),
                        entry.frame.child(cancel, map_item=item),
                    )
                except StatesError as exc:
                    run.history.add("MapIterationFailed", iteration)
                    if tolerated is None:
                        raise
                    failed.append(exc)
                    if len(failed) > tolerated:
                        raise StatesError(
                            errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ) from None
                    return exc.to_output()
                run.history.add("MapIterationSucceeded", iteration)
                return value

            return iterate

        try:
            result = run_all(run, [job(index) for index in range(len(items))], limit)
        except StatesError:
            run.history.add("MapStateFailed")
            raise
        run.history.add("MapStateSucceeded")
        return result

    def _item_input(self, entry: StateEntry, effective: Any, item: dict[str, Any]) -> Any:
        if self.selector is None:
            return copy.deepcopy(item["Value"])
        return self.processing.render(entry.in_item(item), self.selector, effective)

    def _tolerance(self, entry: StateEntry, total: int, effective: Any) -> int | None:
        count = self._number(entry, self.tolerated_count, effective, integer=True)
        percentage = self._number(entry, self.tolerated_percentage, effective, integer=False)
        if count is None and percentage is None:
            return 0 if self.distributed else None
        limits = []
        if count is not None:
            if count < 0:
                raise self.processing.field_error(
                    "ToleratedFailureCount", "ToleratedFailureCount cannot be negative."
                )
            limits.append(int(count))
        if percentage is not None:
            if not 0 <= percentage <= 100:
                raise self.processing.field_error(
                    "ToleratedFailurePercentage", "ToleratedFailurePercentage must be between 0 and 100."
                )
            limits.append(int(total * float(percentage) / 100))
        return min(limits)

    def _number(
        self, entry: StateEntry, value: FieldValue, effective: Any, *, integer: bool
    ) -> int | float | None:
        """A Map setting given directly, by `<field>Path` or as an expression, checked as AWS checks it:
        'The ToleratedFailureCountPath field refers to value "x" which is not a valid integer: $.x'.

        AWS also reads a string holding the number ("1"); a fraction is not an integer.
        """
        found = self.processing.field(entry, value, effective)
        if found is None and not value.by_path:
            return None
        number = _number(found, integer=integer)
        if number is not None:
            return number
        kind = "integer" if integer else "float"
        if value.by_path:
            raise StatesError(
                errors.RUNTIME,
                f'The {value.name}Path field refers to value "{shown(found)}" which is not a valid {kind}: '
                f"{value.path}",
            )
        raise self.processing.field_error(
            value.name, f'The {value.name} field value "{shown(found)}" is not a valid {kind}'
        )
