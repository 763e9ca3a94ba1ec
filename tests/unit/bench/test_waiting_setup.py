"""The cost-of-waiting benchmark's own setup, run in its smallest configuration on the strict runtime.

On AWS a state machine calls the Data API with its role's session, so the reference poll loop
needs a role Step Functions may assume that allows ExecuteStatement and the database sign-in on
the workgroup, and DescribeStatement on its own statements ("Configuring IAM permissions",
Amazon Redshift Management Guide, https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-iam.html;
"Actions, resources, and condition keys for Amazon Redshift Data API", condition key
redshift-data:statement-owner-iam-userid,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html).
The Data API shows a statement only to the IAM role that ran it, so the latency lookup asks as
that role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.project import REFERENCE_NAME, bench_project, with_reference
from bench.waiting import OURS, REFERENCE, measure

from rsetl.iam import LocalIam
from rsetl.template import load_template


def test_the_reference_machine_deploys_with_a_role_of_exactly_its_calls(tmp_path: Path) -> None:
    project = bench_project(tmp_path / "project")
    template = load_template(project / "template.yaml", config_env="local")
    (machine,) = [
        m
        for m in template.of_type("AWS::StepFunctions::StateMachine")
        if m.properties.get("StateMachineName") == REFERENCE_NAME
    ]
    iam = LocalIam(template)
    session = iam.callers.session(str(machine.properties["RoleArn"]), "test")
    workgroup = (
        f"arn:aws:redshift-serverless:{template.region}:{template.account_id}:workgroup/"
        f"{template.parameters['WorkgroupId']}"
    )
    assert iam.denial(session, "redshift-data:ExecuteStatement", workgroup) is None
    assert iam.denial(session, "redshift-serverless:GetCredentials", workgroup) is None
    own = {"redshift-data:statement-owner-iam-userid": session.userid}
    assert iam.denial(session, "redshift-data:DescribeStatement", "*", own) is None
    others = {"redshift-data:statement-owner-iam-userid": "AROAOTHERROLE:session"}
    assert iam.denial(session, "redshift-data:DescribeStatement", "*", others) is not None
    assert iam.denial(session, "redshift-data:CancelStatement", "*", own) is not None
    assert iam.denial(session, "lambda:InvokeFunction", "*") is not None


def test_with_reference_needs_a_resources_section(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("AWSTemplateFormatVersion: '2010-09-09'\n")
    with pytest.raises(ValueError, match="no top-level Resources section"):
        with_reference(template)


def test_both_machines_wait_for_a_one_second_statement_to_the_end() -> None:
    runs = {run.machine: run for run in measure((1,))}
    ours, reference = runs[OURS], runs[REFERENCE]
    assert (ours.status, ours.error) == ("SUCCEEDED", None)
    assert (reference.status, reference.error) == ("SUCCEEDED", None)
    # One Wait of 5 s finds the statement ended: ExecuteStatement, Wait, DescribeStatement,
    # StatementStatus, StatementFinished; its end 1 s after its submission is seen 4 s late.
    assert reference.step_transitions == 5
    assert reference.data_api_calls == 2
    assert reference.virtual_seconds == 5.0
    assert reference.detection_latency == pytest.approx(4.0)
    assert ours.detection_latency is not None
    assert ours.worst_latency is not None
