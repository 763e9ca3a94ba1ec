"""The ASL definitions: placeholders, targets, reachability, statelint, and the error handling."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from etl_common import TRANSIENT_ERRORS
from statelint.linter import Linter

REPO = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((REPO / "statemachines").glob("*.asl.json"))
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def scopes(definition: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``{StartAt, States}`` scope: the machine, each Map's processor, each Parallel's branches."""
    yield where or "(top)", definition
    for name, state in definition["States"].items():
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from scopes(state[key], f"{where}/{name}")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from scopes(branch, f"{where}/{name}[{index}]")


def successors(state: dict[str, Any]) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return found


def graph_problems(definition: dict[str, Any]) -> list[str]:
    """Missing targets, unreachable states and states that neither end nor go on."""
    problems = []
    for where, scope in scopes(definition):
        states = scope["States"]
        if scope["StartAt"] not in states:
            problems.append(f"{where}: StartAt {scope['StartAt']!r} does not exist")
        for name, state in states.items():
            for target in successors(state):
                if target not in states:
                    problems.append(f"{where}/{name}: target {target!r} does not exist")
            terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
            if not terminal and state["Type"] != "Choice" and "Next" not in state:
                problems.append(f"{where}/{name}: neither End nor Next")
        reached, todo = set(), [scope["StartAt"]]
        while todo:
            name = todo.pop()
            if name in reached or name not in states:
                continue
            reached.add(name)
            todo.extend(successors(states[name]))
        problems += [f"{where}/{name}: unreachable" for name in states if name not in reached]
    return problems


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for _, scope in scopes(definition) for name, state in scope["States"].items()}


def substitutions_by_file(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for resource in sam["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            found[props["DefinitionUri"]] = props.get("DefinitionSubstitutions", {})
    return found


def test_every_asl_file_is_used_by_a_state_machine(sam: dict[str, Any]) -> None:
    assert ASL_FILES
    assert sorted(substitutions_by_file(sam)) == sorted(str(p.relative_to(REPO)) for p in ASL_FILES)


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_placeholders_match_definition_substitutions(path: Path, sam: dict[str, Any]) -> None:
    used = set(PLACEHOLDER.findall(path.read_text()))
    keys = set(substitutions_by_file(sam)[str(path.relative_to(REPO))])
    assert used, "resources are referenced only through ${Placeholders}"
    assert used - keys == set(), "placeholders without a DefinitionSubstitutions key"
    assert keys - used == set(), "DefinitionSubstitutions keys no placeholder uses"


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_no_resource_is_named_outside_placeholders(path: Path) -> None:
    for name, state in all_states(load(path)).items():
        function = state.get("Parameters", {}).get("FunctionName")
        if function is not None:
            assert PLACEHOLDER.fullmatch(function), name
        assert "arn:aws:lambda" not in json.dumps(state), name


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_targets_exist_and_every_state_is_reachable(path: Path) -> None:
    assert graph_problems(load(path)) == []


def test_the_graph_check_finds_missing_and_unreachable_states() -> None:
    broken = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "Orphan": {"Type": "Succeed"},
            "Loose": {"Type": "Pass"},
        },
    }
    assert graph_problems(broken) == [
        "(top)/A: target 'Nowhere' does not exist",
        "(top)/Loose: neither End nor Next",
        "(top)/Orphan: unreachable",
        "(top)/Loose: unreachable",
    ]


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_statelint_accepts_the_definition(path: Path) -> None:
    assert Linter.validate(load(path)) == []


def test_statelint_rejects_a_broken_definition() -> None:
    problems = Linter.validate({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": True}}})
    assert problems and "SecondsPath" in problems[0]


@pytest.fixture(scope="module")
def run_pipeline() -> dict[str, dict[str, Any]]:
    return all_states(load(REPO / "statemachines" / "run_pipeline.asl.json"))


def test_statement_tasks_retry_throttling_and_transient_errors_with_jitter(
    run_pipeline: dict[str, Any],
) -> None:
    for name in ("ExecuteStep", "CheckStatement", "CancelTimedOutStatement", "CancelUnknownStatement"):
        retriers = run_pipeline[name]["Retry"]
        data_api = next(r for r in retriers if "ThrottlingException" in r["ErrorEquals"])
        assert set(TRANSIENT_ERRORS) <= set(data_api["ErrorEquals"]), name
        assert "ActiveStatementsExceededException" in data_api["ErrorEquals"], name
        assert "InternalServerException" in data_api["ErrorEquals"], name
        lambda_errors = next(r for r in retriers if "Lambda.ServiceException" in r["ErrorEquals"])
        assert "Lambda.TooManyRequestsException" in lambda_errors["ErrorEquals"], name
        for retrier in retriers:
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["MaxDelaySeconds"] <= 60, name
            assert retrier["MaxAttempts"] <= 10, name


def test_every_task_retries_lambda_errors_and_is_caught(run_pipeline: dict[str, Any]) -> None:
    """Step Functions, "Handling Lambda service exceptions" (retry Lambda.ServiceException,
    AWSLambdaException, SdkClientException, ClientExecutionTimeoutException) and "Error names"
    (Lambda.Unknown: the function failed without an error type, e.g. out of memory):
    https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
    """
    tasks = {name: s for name, s in run_pipeline.items() if s["Type"] == "Task"}
    assert len(tasks) == 8
    recommended = {
        "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
        "Lambda.ClientExecutionTimeoutException", "Lambda.Unknown",
    }  # fmt: skip
    for name, task in tasks.items():
        lambda_errors = next(r for r in task["Retry"] if "Lambda.ServiceException" in r["ErrorEquals"])
        assert recommended <= set(lambda_errors["ErrorEquals"]), name
        assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_every_statement_status_is_handled(run_pipeline: dict[str, Any]) -> None:
    choice = run_pipeline["StatementStatus"]
    text = json.dumps(choice["Choices"])
    for status in ("FINISHED", "FAILED", "ABORTED", "SUBMITTED", "PICKED", "STARTED"):
        assert f'"StringEquals": "{status}"' in text, status
    cancel = run_pipeline[choice["Default"]]
    assert cancel["Parameters"]["FunctionName"] == "${CancelStatementFunctionArn}"
    assert run_pipeline[cancel["Next"]]["Type"] == "Fail"
    assert run_pipeline[cancel["Catch"][-1]["Next"]]["Type"] == "Fail"
    targets = {c["Next"] for c in choice["Choices"]}
    assert {
        "StepSucceeded",
        "StatementFailed",
        "StatementAborted",
        "CancelTimedOutStatement",
        "WaitBeforeCheck",
        "WaitBeforeResubmit",
    } == targets


def test_poll_wait_comes_from_the_check_output(run_pipeline: dict[str, Any]) -> None:
    wait = run_pipeline["WaitBeforeCheck"]
    assert wait == {
        **wait,
        "Type": "Wait",
        "SecondsPath": "$.poll.statement.wait_seconds",
        "Next": "CheckStatement",
    }
    assert run_pipeline["CheckStatement"]["Next"] == "StatementStatus"


def test_a_serialization_failure_resubmits_the_step_as_a_new_attempt(run_pipeline: dict[str, Any]) -> None:
    """Redshift rolls back a transaction with error 1023 and the fix is to run it again
    ("Fixing serializable isolation errors",
    https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)."""
    (retry_rule,) = [
        c for c in run_pipeline["StatementStatus"]["Choices"] if c["Next"] == "WaitBeforeResubmit"
    ]
    assert retry_rule == {
        "And": [
            {"Variable": "$.poll.statement.status", "StringEquals": "FAILED"},
            {"Variable": "$.poll.statement.retry", "BooleanEquals": True},
        ],
        "Next": "WaitBeforeResubmit",
    }
    assert run_pipeline["StatementStatus"]["Choices"][0] == retry_rule, "checked before FAILED fails the step"
    assert run_pipeline["WaitBeforeResubmit"]["SecondsPath"] == "$.poll.statement.wait_seconds"
    next_attempt = run_pipeline[run_pipeline["WaitBeforeResubmit"]["Next"]]
    assert next_attempt["Parameters"]["attempt.$"] == "States.MathAdd($.attempt, 1)"
    assert next_attempt["Next"] == "ExecuteStep"
    assert run_pipeline["ExecuteStep"]["Parameters"]["Payload"]["attempt.$"] == "$.attempt"
    assert run_pipeline["RunSteps"]["ItemSelector"]["attempt"] == 1


def test_failures_name_the_step_and_end_in_a_failure_event(run_pipeline: dict[str, Any]) -> None:
    fails = {name: s for name, s in run_pipeline.items() if s["Type"] == "Fail"}
    for name, state in fails.items():
        assert state["Error"].startswith("rsetl."), name
        assert "CausePath" in state, name
    assert run_pipeline["RunStages"]["Catch"][0]["Next"] == "CancelRunningStatements"
    cancel = run_pipeline["CancelRunningStatements"]
    assert cancel["Parameters"]["Payload"]["running_of_execution.$"] == "$$.Execution.Name"
    assert (cancel["Next"], cancel["Catch"][0]["Next"]) == ("EmitPipelineFailed", "EmitPipelineFailed")
    assert cancel["ResultPath"] is None
    assert run_pipeline["EmitPipelineFailed"]["Next"] == "PipelineFailed"
    assert run_pipeline["EmitPipelineFailed"]["Parameters"]["Payload"]["outcome"] == "FAILED"
    assert run_pipeline["EncodeTaskFailure"]["Parameters"] == {"cause.$": "States.JsonToString($.failure)"}


def test_stages_run_in_order_and_a_stages_steps_in_parallel(run_pipeline: dict[str, Any]) -> None:
    assert run_pipeline["RunStages"]["MaxConcurrency"] == 1
    assert run_pipeline["RunStages"]["ItemsPath"] == "$.run.stages"
    assert run_pipeline["RunSteps"]["MaxConcurrency"] == 0
    assert run_pipeline["RunSteps"]["ItemsPath"] == "$.stage.steps"
