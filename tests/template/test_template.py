"""What the SAM template generates, checked on the offline aws-sam-translator output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from cfnlint.api import ManualArgs, lint_file
from etl_common import load_all_specs, prepare_run
from etl_common.batches import max_files
from etl_common.schemas import schema_errors

from rsetl.eventbridge import EventPattern
from rsetl.eventbridge.transform import RuleContext, render_target_input
from rsetl.template.pipelines import load_pipelines

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
BUCKET = "rsetl-landing-example"
STATE_MACHINE = "RunPipelineStateMachine"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:rsetl-run-pipeline"


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def substitute(value: Any, refs: dict[str, str]) -> Any:
    """Replace ``{"Ref": X}`` for the refs given (e.g. the landing bucket's name)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in refs:
            return refs[value["Ref"]]
        return {k: substitute(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, refs) for v in value]
    return value


def sample(name: str) -> dict[str, Any]:
    return json.loads((REPO / "events" / name).read_text())


def rule_inputs(
    resources: dict[str, Any], event: dict[str, Any], bus: str | None
) -> dict[str, dict[str, Any]]:
    """For every rule on ``bus`` (None: the default bus) matching ``event``: the input its target gets."""
    started = {}
    for name, rule in of_type(resources, "AWS::Events::Rule").items():
        props = substitute(rule["Properties"], {"LandingBucket": BUCKET})
        if "EventPattern" not in props or props.get("State") == "DISABLED":
            continue
        # A pattern may name this stack's state machine (its status change events).
        props["EventPattern"] = substitute(props["EventPattern"], {STATE_MACHINE: MACHINE_ARN})
        on_bus = props.get("EventBusName")
        if (on_bus and on_bus != {"Ref": "PipelineEventBus"}) or (bool(on_bus) != (bus is not None)):
            continue
        if EventPattern(props["EventPattern"]).matches(event):
            (target,) = props["Targets"]
            text = render_target_input(target, event, RuleContext("arn:rule", name, event["time"]))
            started[name] = {"target": target["Arn"], "input": json.loads(text)}
    return started


def test_resources_the_application_consists_of(resources: dict[str, Any]) -> None:
    machines = of_type(resources, "AWS::StepFunctions::StateMachine")
    assert list(machines) == [STATE_MACHINE, "RefreshViewsStateMachine"]
    assert {m["Properties"]["StateMachineType"] for m in machines.values()} == {"STANDARD"}
    assert len(of_type(resources, "AWS::Lambda::Function")) == 7
    assert len(of_type(resources, "AWS::Lambda::LayerVersion")) == 2
    assert len(of_type(resources, "AWS::Events::EventBus")) == 1
    assert len(of_type(resources, "AWS::Events::Rule")) == 8


def test_state_machine_logs_and_traces(resources: dict[str, Any]) -> None:
    props = resources[STATE_MACHINE]["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["StateMachineLogGroup", "Arn"]
    }
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["RoleArn"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}


def test_landing_bucket_sends_events_to_eventbridge(resources: dict[str, Any]) -> None:
    props = resources["LandingBucket"]["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert all(props["PublicAccessBlockConfiguration"].values())


def test_functions_share_layers_and_read_specs_from_opt(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.11", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert len(props["Layers"]) == 2, name
        assert props["Environment"]["Variables"]["PIPELINES_DIR"] == "/opt", name
        folder = REPO / props["Code"]["S3Key"]
        assert "def lambda_handler(" in (folder / "app.py").read_text(), name
        assert (folder / "requirements.txt").is_file(), name


def test_execute_check_and_cancel_share_one_role(resources: dict[str, Any]) -> None:
    roles = {
        name: resources[name]["Properties"]["Role"]
        for name in ("ExecuteStepFunction", "CheckStatementFunction", "CancelStatementFunction")
    }
    assert set(map(json.dumps, roles.values())) == {json.dumps({"Fn::GetAtt": ["StatementRole", "Arn"]})}


def test_layers_ship_the_code_and_the_pipelines(resources: dict[str, Any]) -> None:
    keys = sorted(
        r["Properties"]["Content"]["S3Key"] for r in of_type(resources, "AWS::Lambda::LayerVersion").values()
    )
    assert keys == ["layers/etl_common/python/", "pipelines/"]
    assert (REPO / "layers/etl_common/python/etl_common/__init__.py").is_file()
    assert (REPO / "pipelines/specs").is_dir() and (REPO / "pipelines/schemas").is_dir()


def test_every_rule_target_has_retries_and_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    for name, rule in of_type(resources, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}}, (
                name
            )
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, name
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600, name


def test_dead_letter_queue_accepts_only_this_stacks_rules(resources: dict[str, Any]) -> None:
    (statement,) = resources["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(of_type(resources, "AWS::Events::Rule"))


def test_completion_rules_filter_on_success_state(resources: dict[str, Any]) -> None:
    for name, rule in of_type(resources, "AWS::Events::Rule").items():
        pattern = rule["Properties"].get("EventPattern", {})
        if pattern.get("source") != ["rsetl.pipeline"]:
            continue
        assert rule["Properties"]["EventBusName"] == {"Ref": "PipelineEventBus"}, name
        assert len(pattern["detail-type"]) == 1, name
        expected = {"Pipeline Succeeded": ["SUCCEEDED"], "Pipeline Failed": ["FAILED"]}[
            pattern["detail-type"][0]
        ]
        assert pattern["detail"]["state"] == expected, name
        assert pattern["detail"]["pipeline"], name


def test_each_s3_trigger_starts_its_pipeline_with_the_upload(resources: dict[str, Any]) -> None:
    """The S3 triggers `rsetl.template.pipelines` reads from template.yaml are what the transformed
    rules do: an upload under the prefix starts that pipeline, and only it, with the object's ids."""
    s3_triggers = [
        (p.name, t) for p in load_pipelines(TEMPLATE).values() for t in p.triggers if t.kind == "s3"
    ]
    assert {name for name, _ in s3_triggers} >= {"ingest_sales", "ingest_products", "ingest_stores"}
    for name, trigger in s3_triggers:
        (prefix,) = trigger.prefixes
        key = prefix + "2024/file.csv"
        event = sample("s3-object-created-sales.json")
        event["detail"]["object"]["key"] = key
        started = rule_inputs(resources, event, bus=None)
        assert list(started) == [trigger.rule], (name, started)
        (start,) = started.values()
        assert start["target"] == {"Ref": STATE_MACHINE}
        assert start["input"] == {
            "pipeline": name,
            "parameters": {"bucket": BUCKET, "object_key": key, "etag": event["detail"]["object"]["etag"]},
        }


def test_an_upload_outside_the_prefixes_or_bucket_starts_nothing(resources: dict[str, Any]) -> None:
    event = sample("s3-object-created-sales.json")
    event["detail"]["object"]["key"] = "quarantine/sales/2024/03/01/store-0042.csv.gz"
    assert rule_inputs(resources, event, bus=None) == {}
    event = sample("s3-object-created-sales.json")
    event["detail"]["bucket"]["name"] = "some-other-bucket"
    assert rule_inputs(resources, event, bus=None) == {}


def test_a_zero_byte_object_starts_no_ingest(resources: dict[str, Any]) -> None:
    """A folder marker (`sales/2026/`, what the S3 console's "Create folder" writes) or an empty file
    starts no load: COPY takes the key as a prefix, so a run for `sales/2026/` would load every file
    below it (issue 11, item 7). S3's Object Created event carries `detail.object.size` ("Amazon S3
    event notifications ... using EventBridge", detail structure,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    for key, size in (("sales/2026/", 0), ("reference/products/", 0), ("reference/stores/x.csv", 0)):
        event = sample("s3-object-created-sales.json")
        event["detail"]["object"].update(key=key, size=size)
        assert rule_inputs(resources, event, bus=None) == {}, key
    event = sample("s3-object-created-sales.json")
    event["detail"]["object"]["size"] = 1
    assert len(rule_inputs(resources, event, bus=None)) == 1


def test_sample_upload_becomes_a_valid_run(resources: dict[str, Any], pipelines_dir: Path) -> None:
    (start,) = rule_inputs(resources, sample("s3-object-created-sales.json"), bus=None).values()
    assert schema_errors("start-input", start["input"]) == []
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    bucket, key = "rsetl-landing-example", "sales/2024/03/01/store-0042.csv.gz"
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", "404", http_status_code=404)
        stubber.add_response("copy_object", {}, {
            "Bucket": bucket, "Key": f"rsetl-staging/e1/{key}", "CopySource": {"Bucket": bucket, "Key": key},
            "CopySourceIfMatch": "b1946ac92492d2347c6235b4d2611184", "MetadataDirective": "REPLACE",
            "Metadata": ANY, "TaggingDirective": "REPLACE",
        })  # fmt: skip
        stubber.add_response("put_object", {}, {
            "Bucket": bucket, "Key": f"rsetl-staging/e1/{key}.manifest", "Body": ANY,
            "ContentType": "application/json",
        })  # fmt: skip
        run = prepare_run(
            start["input"],
            execution_name="e1",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e1",
            started_at="2024-03-02T01:05:12Z",
            default_timeout_seconds=3600,
            s3=s3,
        )
    assert run["pipeline"] == "ingest_sales"
    assert run["parameters"]["object_key"] == key
    assert run["source"] == {"status": "STAGED", "manifest": f"s3://{bucket}/rsetl-staging/e1/{key}.manifest"}


def executions_started(resources: dict[str, Any], machine: str) -> list[tuple[Any, Any]]:
    """(the DefinitionSubstitutions value of StateMachineArn, Input) of each startExecution task."""
    props = resources[machine]["Properties"]
    separator, lines = props["DefinitionString"]["Fn::Join"]
    states = json.loads(separator.join(lines))["States"].values()
    substitutions = props.get("DefinitionSubstitutions", {})
    return [
        (substitutions.get(state["Parameters"]["StateMachineArn"].strip("${}")), state["Parameters"]["Input"])
        for state in states
        if state["Type"] == "Task" and state["Resource"].startswith("arn:aws:states:::states:startExecution")
    ]


def test_each_downstream_link_starts_its_pipeline_with_the_upstream_parameters(
    resources: dict[str, Any],
) -> None:
    """A pipeline trigger read from template.yaml is what the transformed rule does on the upstream's
    success event: it starts the downstream pipeline with the parameters its InputTransformer maps, or
    (an indirect trigger) sends the whole event to the function whose environment names the machine
    that starts the pipeline on RunPipeline (the coalesced refresh, docs/aws.md)."""
    pipelines = load_pipelines(TEMPLATE)
    links = [
        (upstream, name, trigger)
        for name, pipeline in pipelines.items()
        for trigger in pipeline.triggers
        if trigger.kind in ("pipeline", "indirect")
        for upstream in trigger.upstream
    ]
    assert len(links) >= 4
    assert {name for _, name, trigger in links if trigger.kind == "indirect"} == {"refresh_sales_views"}
    for upstream, downstream, trigger in links:
        assert downstream in pipelines[upstream].downstream
        parameters = {p: f"value-of-{p}" for p in pipelines[upstream].parameters}
        event = sample("pipeline-succeeded-ingest-sales.json")
        event["detail"].update(pipeline=upstream, parameters=parameters)
        started = rule_inputs(resources, event, bus="PipelineEventBus")
        if trigger.kind == "indirect":
            function, machine = trigger.via
            whole_event = {"target": {"Fn::GetAtt": [function, "Arn"]}, "input": event}
            assert started == {trigger.rule: whole_event}, upstream
            variables = resources[function]["Properties"]["Environment"]["Variables"]
            assert variables["REFRESH_STATE_MACHINE_ARN"] == {"Ref": machine}
            run = ({"Ref": STATE_MACHINE}, {"pipeline": downstream, "parameters": trigger.parameters})
            assert executions_started(resources, machine) == [run]
            continue
        expected = {
            "pipeline": downstream,
            "parameters": {
                target: parameters[source.removeprefix("$.detail.parameters.")]
                for target, source in trigger.parameters.items()
            },
        }
        assert {name: s["input"] for name, s in started.items()} == {trigger.rule: expected}, upstream


def test_a_failed_run_never_starts_downstream_work(resources: dict[str, Any]) -> None:
    for upstream in ("ingest_sales", "ingest_products", "ingest_stores", "nightly_sales_snapshot"):
        succeeded = sample("pipeline-succeeded-nightly.json")
        succeeded["detail"]["pipeline"] = upstream
        failed = json.loads(json.dumps(succeeded))
        failed["detail"]["state"] = "FAILED"
        assert rule_inputs(resources, failed, bus="PipelineEventBus") == {}, upstream
        failed["detail-type"] = "Pipeline Failed"
        started = rule_inputs(resources, failed, bus="PipelineEventBus")
        assert all(s["target"] == {"Fn::GetAtt": ["QuarantineFileFunction", "Arn"]} for s in started.values())
        assert bool(started) == upstream.startswith("ingest_"), upstream


def test_failed_ingest_goes_to_quarantine(resources: dict[str, Any], pipelines_dir: Path) -> None:
    started = rule_inputs(resources, sample("pipeline-failed-ingest-sales.json"), bus="PipelineEventBus")
    assert list(started) == ["QuarantineFileFunctionQuarantineFailedIngest"]
    quarantined = {
        name for name, spec in load_all_specs().items() if spec.get("on_failure", {}).get("quarantine")
    }
    pattern = resources["QuarantineFileFunctionQuarantineFailedIngest"]["Properties"]["EventPattern"]
    assert sorted(pattern["detail"]["pipeline"]) == sorted(quarantined)


def test_a_stopped_or_timed_out_run_has_its_running_statements_cancelled(resources: dict[str, Any]) -> None:
    """StopExecution and the execution timeout run no Catch; Step Functions still sends the status change.

    Step Functions events in EventBridge ("Step Functions Execution Status Change", default bus):
    https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
    """
    arn = "arn:aws:states:us-east-1:123456789012:execution:rsetl-run-pipeline:run-1"
    event: dict[str, Any] = {
        "version": "0", "id": "e-1", "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": "123456789012", "time": "2026-11-07T02:00:00Z",
        "region": "us-east-1", "resources": [arn],
        "detail": {"executionArn": arn, "stateMachineArn": MACHINE_ARN, "name": "run-1", "status": "ABORTED"},
    }  # fmt: skip
    rule = resources["CancelStatementFunctionCancelStoppedRunStatements"]["Properties"]
    assert rule["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": STATE_MACHINE}]
    expected = {"running_of_execution": "run-1", "execution_name": "run-1"}
    for status, cancelled in (
        ("ABORTED", True),
        ("TIMED_OUT", True),
        ("FAILED", False),
        ("SUCCEEDED", False),
    ):
        event["detail"]["status"] = status
        started = rule_inputs(resources, event, bus=None).get(
            "CancelStatementFunctionCancelStoppedRunStatements"
        )
        assert (started or {}).get("input") == (expected if cancelled else None), status


def test_schedules_have_stack_unique_names_and_the_specs_expressions(
    sam: dict[str, Any], resources: dict[str, Any], pipelines_dir: Path
) -> None:
    schedules = {
        n: r
        for n, r in of_type(resources, "AWS::Events::Rule").items()
        if "ScheduleExpression" in r["Properties"]
    }
    scheduled = {
        name: trigger
        for name, pipeline in load_pipelines(TEMPLATE).items()
        for trigger in pipeline.triggers
        if trigger.kind == "schedule"
    }
    assert len(schedules) == len(scheduled) >= 1
    for name, rule in schedules.items():
        props = rule["Properties"]
        assert "${AWS::StackName}" in props["Name"]["Fn::Sub"], name
        (target,) = props["Targets"]
        pipeline = json.loads(target["Input"])["pipeline"]
        expression = props["ScheduleExpression"]
        assert sam["Parameters"][expression["Ref"]]["Default"] == scheduled[pipeline].schedule
        assert target["Arn"] == {"Ref": STATE_MACHINE}


def test_rule_targets_get_start_execution_on_this_state_machine_only(resources: dict[str, Any]) -> None:
    for rule in of_type(resources, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        if target["Arn"] != {"Ref": STATE_MACHINE}:
            continue
        role = resources[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert statements == [
            {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": STATE_MACHINE}}
        ]


def test_no_wildcard_actions_or_unscoped_resources(
    resources: dict[str, Any], iam_checks: Any, sam: dict[str, Any]
) -> None:
    problems = []
    checked = 0
    for _, where, policy in iam_checks.policy_documents(resources):
        for provisioned in (True, False):
            conditions = dict.fromkeys(sam["Conditions"], True) | {"IsProvisioned": provisioned}
            resolved = iam_checks.resolve_conditions(policy, conditions)
            if resolved == {"Ref": "AWS::NoValue"}:
                continue
            checked += 1
            problems += iam_checks.policy_problems(where, resolved["PolicyDocument"])
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), name
    assert checked > 20
    assert problems == []


def test_the_iam_check_catches_wildcards_and_unscoped_resources(iam_checks: Any) -> None:
    bad = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": "redshift-data:DescribeStatement", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        ]
    }
    problems = iam_checks.policy_problems("Bad", bad)
    assert len(problems) == 3
    assert "wildcard action 's3:*'" in problems[0]
    assert "s3:GetObject on Resource '*'" in problems[1]
    assert "without a redshift-data:statement-owner-iam-userid condition" in problems[2]


@pytest.mark.parametrize(
    ("parameters", "expected", "absent"),
    [
        (
            {"ClusterIdentifier": "etl-cluster", "DbUser": "etl"},
            {"redshift:GetClusterCredentials"},
            {"secretsmanager:GetSecretValue", "redshift-serverless:GetCredentials"},
        ),
        (
            {
                "ClusterIdentifier": "etl-cluster",
                "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            },
            {"secretsmanager:GetSecretValue"},
            {"redshift:GetClusterCredentials", "redshift-serverless:GetCredentials"},
        ),
        (
            {"WorkgroupName": "etl", "WorkgroupId": "0f0e0d0c-0b0a-0908-0706-050403020100"},
            {"redshift-serverless:GetCredentials"},
            {"secretsmanager:GetSecretValue", "redshift:GetClusterCredentials"},
        ),
        (
            {"WorkgroupName": "etl", "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"},
            {"secretsmanager:GetSecretValue"},
            {"redshift:GetClusterCredentials", "redshift-serverless:GetCredentials"},
        ),
    ],
)
def test_conditions_pick_the_auth_statements(
    sam: dict[str, Any],
    resources: dict[str, Any],
    iam_checks: Any,
    parameters: dict[str, str],
    expected: set[str],
    absent: set[str],
) -> None:
    conditions = iam_checks.evaluate_conditions(sam, parameters)
    for role in ("StatementRole", "QuarantineRole"):
        policies = iam_checks.resolve_conditions(resources[role]["Properties"]["Policies"], conditions)
        actions = {
            a
            for p in policies
            for s in p["PolicyDocument"]["Statement"]
            for a in iam_checks.as_list(s["Action"])
        }
        assert expected <= actions, role
        assert not absent & actions, role
        run = [
            s
            for p in policies
            for s in p["PolicyDocument"]["Statement"]
            if "redshift-data:ExecuteStatement" in iam_checks.as_list(s["Action"])
        ]
        (statement,) = run
        arn = statement["Resource"]["Fn::Sub"]
        assert (":cluster:${ClusterIdentifier}" in arn) == ("ClusterIdentifier" in parameters), role
        assert ("workgroup/${WorkgroupId}" in arn) == ("WorkgroupName" in parameters), role


def test_template_rules_guard_the_target_choice(sam: dict[str, Any]) -> None:
    assert set(sam["Rules"]) == {"OneRedshiftTarget", "ProvisionedAuth", "ServerlessScope"}


def test_cfn_lint_accepts_the_template() -> None:
    matches = lint_file(REPO / "template.yaml", ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    broken = (
        (REPO / "template.yaml")
        .read_text()
        .replace(
            "      NotificationConfiguration:", "      NotAProperty: 1\n      NotificationConfiguration:", 1
        )
    )
    (tmp_path / "template.yaml").write_text(broken)
    matches = lint_file(tmp_path / "template.yaml", ManualArgs(regions=["us-east-1"]))
    assert any("NotAProperty" in str(m) for m in matches)


def test_batched_sales_uploads_go_to_the_queue_and_products_stay_per_file(
    batched_resources: dict[str, Any],
) -> None:
    """SalesLoads: BATCHED. EventBridge sends the whole event to an SQS target without an input
    transformer ("Amazon EventBridge targets"); the per-file sales rule is disabled, products and
    stores stay per file."""
    event = sample("s3-object-created-sales.json")
    started = rule_inputs(batched_resources, event, bus=None)
    assert list(started) == ["SalesUploadsRule"]
    assert started["SalesUploadsRule"] == {
        "target": {"Fn::GetAtt": ["SalesUploadsQueue", "Arn"]},
        "input": event,
    }
    event["detail"]["object"]["key"] = "reference/products/2024/file.csv"
    assert list(rule_inputs(batched_resources, event, bus=None)) == [
        "RunPipelineStateMachineIngestProductsOnUpload"
    ]


def test_the_sales_uploads_queue_takes_only_its_rule_and_outlives_the_function(
    batched_resources: dict[str, Any],
) -> None:
    """ "Configuring an Amazon SQS queue to use with Lambda": a visibility timeout of at least six times
    the function's timeout; SQS resource-based policy scoped by aws:SourceArn to the rule
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions)."""
    queue = batched_resources["SalesUploadsQueue"]["Properties"]
    function = batched_resources["StartBatchLoadsFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["SalesUploadsDeadLetterQueue", "Arn"]
    }
    (statement,) = batched_resources["SalesUploadsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SalesUploadsRule", "Arn"]}}
    }
    (mapping,) = of_type(batched_resources, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    most = max_files(load_all_specs()["ingest_sales_batch"])
    assert props["BatchSize"] % most == 0, "a batch fills whole ingest_sales_batch runs"
    assert props["MaximumBatchingWindowInSeconds"] >= 1, "a BatchSize over 10 needs a batching window"


def test_a_message_in_the_sales_uploads_dead_letter_queue_raises_an_alarm(
    resources: dict[str, Any], batched_resources: dict[str, Any]
) -> None:
    """AWS::CloudWatch::Alarm on the AWS/SQS metric ApproximateNumberOfMessagesVisible of the queue
    ("Available CloudWatch metrics for Amazon SQS",
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html),
    as the QuarantineFailureQueue has; only where the queue is (SalesLoads: BATCHED)."""
    alarm = batched_resources["SalesUploadsDeadLetterAlarm"]
    assert alarm["Condition"] == batched_resources["SalesUploadsDeadLetterQueue"]["Condition"]
    props = alarm["Properties"]
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["SalesUploadsDeadLetterQueue", "QueueName"]}}
    ]
    assert (props["Namespace"], props["MetricName"], props["ComparisonOperator"], props["Threshold"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0
    )  # fmt: skip
    assert "SalesUploadsDeadLetterAlarm" not in resources


def test_batched_dead_letter_queue_accepts_this_stacks_rules(batched_resources: dict[str, Any]) -> None:
    test_dead_letter_queue_accepts_only_this_stacks_rules(batched_resources)
    assert "SalesUploadsRule" in of_type(batched_resources, "AWS::Events::Rule")
