"""Page load of the run page for one execution with 500 states entered, measured in a real browser.

Run: `.venv/bin/python -m bench.console_load`. The execution is RunPipeline's poll loop of a long
statement (ExecuteStep, then WaitBeforeCheck -> CheckStatement -> StatementStatus until it ends),
its history written as the interpreter writes it, served by the runtime's HTTP server and router
under `/_rsetl/`. Each round opens a fresh page in Debian's Chromium (headless, via Playwright) and
times it from navigation to the drawn graph: as the driver sees it, and in the page (its
`performance.now()`, from the navigation's start, when the view was drawn). Target: under 1 s.
Prints the median of the rounds and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from rsetl.awsproto import LocalServer, Router
from rsetl.clock import VirtualClock
from rsetl.console.pages import MOUNT, PREFIX, ConsolePages
from rsetl.console.views import RunSource
from rsetl.stepfunctions.history import History
from rsetl.stepfunctions.interpreter import Execution

PROJECT = Path(__file__).resolve().parents[1]
STATES_ENTERED = 500
TARGET_SECONDS = 1.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:rsetl-RunPipelineStateMachine"


def long_poll_execution(states_entered: int) -> Execution:
    """A RunPipeline execution that polled one statement until `states_entered` states were entered."""
    clock = VirtualClock(datetime(2026, 11, 6, 22, 0, tzinfo=UTC))
    history = History(clock)
    payload = json.dumps({"run": {"pipeline": "bench", "stages": [{"name": "s"}]}, "attempt": 1})

    def state(name: str, kind: str, seconds: float = 0.0, task: bool = False) -> None:
        history.add(f"{kind}StateEntered", {"name": name, "input": payload})
        if task:
            history.add(
                "TaskScheduled",
                {
                    "resourceType": "lambda",
                    "resource": "invoke",
                    "region": "us-east-1",
                    "parameters": payload,
                },
            )
            history.add("TaskStarted", {"resourceType": "lambda", "resource": "invoke"})
            clock.advance(seconds)
            history.add("TaskSucceeded", {"resourceType": "lambda", "resource": "invoke", "output": payload})
        else:
            clock.advance(seconds)
        history.add(f"{kind}StateExited", {"name": name, "output": payload})

    history.add("ExecutionStarted", {"input": payload, "roleArn": "arn:aws:iam::000000000000:role/r"})
    state("PrepareRun", "Task", 0.2, task=True)
    history.add("MapStateEntered", {"name": "RunStages", "input": payload})
    history.add("MapIterationStarted", {"name": "RunStages", "index": 0})
    history.add("MapStateEntered", {"name": "RunSteps", "input": payload})
    history.add("MapIterationStarted", {"name": "RunSteps", "index": 0})
    state("ExecuteStep", "Task", 30, task=True)
    state("StatementStatus", "Choice")
    entered, closing = 5, 3  # the states above; StepSucceeded, EmitPipelineSucceeded, PipelineSucceeded
    while entered + 3 <= states_entered - closing:
        state("WaitBeforeCheck", "Wait", 60)
        state("CheckStatement", "Task", 120, task=True)
        state("StatementStatus", "Choice")
        entered += 3
    while entered < states_entered - closing:
        state("StatementStatus", "Choice")
        entered += 1
    state("StepSucceeded", "Succeed")
    history.add("MapIterationSucceeded", {"name": "RunSteps", "index": 0})
    history.add("MapStateExited", {"name": "RunSteps", "output": payload})
    history.add("MapIterationSucceeded", {"name": "RunStages", "index": 0})
    history.add("MapStateExited", {"name": "RunStages", "output": payload})
    state("EmitPipelineSucceeded", "Task", 0.1, task=True)
    state("PipelineSucceeded", "Succeed")
    history.add("ExecutionSucceeded", {"output": payload})
    start = history.events[0]["timestamp"]
    return Execution(
        arn=MACHINE_ARN.replace(":stateMachine:", ":execution:") + ":bench-500",
        name="bench-500",
        state_machine_arn=MACHINE_ARN,
        state_machine_name="rsetl-RunPipelineStateMachine",
        program=None,
        input={"pipeline": "bench", "parameters": {}},
        history=history,
        status="SUCCEEDED",
        start_date=start,
        stop_date=start + timedelta(seconds=clock.monotonic()),
        output={},
    )


def measure(rounds: int) -> dict[str, Any]:
    execution = long_poll_execution(STATES_ENTERED)
    entered = execution.history.stats.state_transitions
    definition = json.loads((PROJECT / "statemachines" / "run_pipeline.asl.json").read_text())
    source = RunSource(
        pipelines={},
        executions=lambda: [execution],
        definition=lambda arn: definition,
        events=list,
        deliveries=list,
        statements=list,
        now=lambda: datetime.now(UTC),
        virtual_clock=True,
    )
    router = Router()
    router.mount(MOUNT, ConsolePages(source).handle)
    driver_seconds: list[float] = []
    page_seconds: list[float] = []
    with LocalServer(router) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        url = f"{server.url}{PREFIX}#/execution/{execution.arn}"
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector('#view[data-rendered^="execution"] .graph-svg .node')
            driver_seconds.append(time.perf_counter() - started)
            page_seconds.append(float(page.get_attribute("#view", "data-rendered-at") or "nan") / 1000)
            page.close()
        browser.close()
    return {
        "states_entered": entered,
        "history_events": len(execution.history),
        "rounds": rounds,
        "driver_median_s": statistics.median(driver_seconds),
        "page_median_s": statistics.median(page_seconds),
        "driver_max_s": max(driver_seconds),
        "loadavg": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    figures = measure(parser.parse_args().rounds)
    verdict = "pass" if figures["driver_median_s"] < TARGET_SECONDS else "MISS"
    print(
        f"run page, one execution with {figures['states_entered']} states entered "
        f"({figures['history_events']} history events): load to drawn graph "
        f"{figures['driver_median_s'] * 1000:.0f} ms median (driver), "
        f"{figures['page_median_s'] * 1000:.0f} ms (in the page), "
        f"max {figures['driver_max_s'] * 1000:.0f} ms over {figures['rounds']} rounds; "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}; load average {figures['loadavg']}"
    )


if __name__ == "__main__":
    main()
