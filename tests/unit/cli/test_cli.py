"""The `rsetl local` command line without a running runtime: arguments, usage errors and their exit codes."""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from rsetl.cli import build_parser, main
from rsetl.cli.client import EndpointError, LocalClients
from rsetl.cli.demo import run_demo
from rsetl.cli.local import delivery_text, parse_s3_uri, print_startup_problems
from rsetl.cli.up import UsageError, parse_credentials, parse_database_secrets
from rsetl.eventbridge.delivery import DeliveryRecord
from rsetl.eventbridge.scheduler import MissedFires
from rsetl.redshift_data import STATEMENT_WORKERS
from rsetl.runtime import DEFAULT_STATE_DIR, EndpointInfo
from rsetl.runtime.runtime import Recovery
from rsetl.runtime.state import hold_state_dir, write_endpoint
from rsetl.s3.notifications import ObjectNotification
from rsetl.stepfunctions.restarts import Restart

PROJECT_DIR = Path(__file__).resolve().parents[3]

CLIENT_COMMANDS = [
    ["put", __file__, "s3://bucket/key.csv"],
    ["start", "refresh_sales_views", "--wait"],
    ["executions"],
    ["execution", "some-run"],
    ["events"],
    ["sql", "SELECT 1"],
]


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=lambda c: c[0])
def test_each_client_command_without_a_runtime_exits_2_saying_how_to_start_one(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "--state-dir", str(tmp_path), *command]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"rsetl: no local runtime is running for {tmp_path}")
    assert f"rsetl local up --state-dir {tmp_path}" in err


def test_client_commands_default_to_the_state_dir_of_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["local", "executions"]) == 2

    assert f"no local runtime is running for {DEFAULT_STATE_DIR}:" in capsys.readouterr().err


def test_the_demo_takes_a_state_dir_and_otherwise_uses_its_own() -> None:
    parsed = build_parser().parse_args(["local", "--state-dir", "/tmp/x", "demo"])
    assert (parsed.local_command, parsed.state_dir) == ("demo", Path("/tmp/x"))
    assert build_parser().parse_args(["local", "demo"]).state_dir is None


def test_up_defaults_to_port_4566() -> None:
    parsed = build_parser().parse_args(["local", "up"])
    assert (parsed.port, parsed.database_url, parsed.parameter_overrides) == (4566, None, [])


def test_up_takes_the_number_of_statement_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--statement-workers N` reaches `RuntimeOptions.statement_workers`; the default is the service's."""
    seen: list[int] = []

    def up(*args: Any, **kwargs: Any) -> int:
        seen.append(kwargs["statement_workers"])
        return 0

    monkeypatch.setattr("rsetl.cli.up.up", up)
    assert main(["local", "up", "--statement-workers", "8"]) == 0
    assert main(["local", "up"]) == 0
    assert seen == [8, STATEMENT_WORKERS]


def test_up_reads_the_local_config_env_by_default() -> None:
    assert build_parser().parse_args(["local", "up"]).config_env == "local"


def test_up_stops_before_anything_starts_when_a_rule_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sam deploy` has CloudFormation evaluate the Rules before the change set; `up` does too.

    CloudFormation template Rules syntax:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
    """
    state_dir = tmp_path / "state"
    command = ["local", "--state-dir", str(state_dir), "up", "--project-dir", str(PROJECT_DIR)]

    assert main([*command, "--parameter-overrides", "WorkgroupId="]) == 2

    err = capsys.readouterr().err
    assert "A Serverless workgroup needs WorkgroupId (its UUID) to scope the IAM policies." in err
    assert not state_dir.exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bucket/key", "is not an s3://bucket/key URI"),
        ("s3://bucket", "needs both a bucket and a key"),
        ("s3:///key", "needs both a bucket and a key"),
    ],
)
def test_bad_s3_uris_are_usage_errors(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_s3_uri(uri)


def test_s3_uris_split_at_the_first_slash() -> None:
    assert parse_s3_uri("s3://landing/sales/2026/11/01/a.csv") == ("landing", "sales/2026/11/01/a.csv")


@pytest.fixture
def endpoint(tmp_path: Path) -> Path:
    """A state dir whose endpoint file names this (live) process and an address nothing listens on."""
    write_endpoint(
        tmp_path,
        EndpointInfo(
            "http://127.0.0.1:9",
            os.getpid(),
            "us-east-1",
            "test",
            "test",
            "rsetl",
            {"RunPipeline": "arn:aws:states:us-east-1:000000000000:stateMachine:run"},
            {},
        ),
    )
    return tmp_path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["start", "ingest_sales", "--input", "{not json"], "--input is not JSON"),
        (["start", "ingest_sales", "--input", "[1, 2]"], "--input must be a JSON object"),
        (["put", "/no/such/file.csv", "s3://bucket/key"], "/no/such/file.csv is not a file"),
        (["put", __file__, "bucket/key"], "is not an s3://bucket/key URI"),
    ],
)
def test_usage_errors_exit_2_before_calling_the_endpoint(
    endpoint: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "--state-dir", str(endpoint), *arguments]) == 2

    assert message in capsys.readouterr().err


def test_the_demo_refuses_to_wipe_a_folder_that_holds_no_local_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    assert run_demo(PROJECT_DIR, PROJECT_DIR / "sample_data", state_dir=tmp_path) == 2

    # The console wraps at its width, so where the line breaks depends on the path's length.
    assert "would wipe it" in " ".join(capsys.readouterr().out.split())
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_database_secrets_map_a_secret_arn_to_its_user() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:etl-AbCdEf"
    args = build_parser().parse_args(["local", "up", "--database-secret", f"{arn}=etl_user"])
    assert parse_database_secrets(args.database_secret) == {arn: "etl_user"}
    for bad in ("etl_user", f"{arn}=", "secret=etl_user"):
        with pytest.raises(UsageError, match="SECRET_ARN=USER"):
            parse_database_secrets([bad])


def test_events_show_what_became_of_an_asynchronously_invoked_function() -> None:
    """A delivery whose function then failed reads as such, never as SUCCEEDED.

    Lambda asynchronous invocation: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
    """
    invocation = {"status": "DROPPED", "attempts": 3, "errors": [], "destination": None}
    assert delivery_text({"status": "TARGET_FAILED", "attempts": 1, "invocation": invocation}) == (
        "TARGET_FAILED (1): DROPPED after 3 function attempt(s)"
    )
    sent = {**invocation, "status": "SENT_TO_DESTINATION", "destination": "arn:aws:sqs:us-east-1:0:q"}
    assert delivery_text({"status": "TARGET_FAILED", "attempts": 1, "invocation": sent}) == (
        "TARGET_FAILED (1): SENT_TO_DESTINATION to arn:aws:sqs:us-east-1:0:q after 3 function attempt(s)"
    )
    assert delivery_text({"status": "SUCCEEDED", "attempts": 2, "invocation": None}) == "SUCCEEDED (2)"


@pytest.mark.parametrize("command", ["up", "demo"])
def test_isolation_level_option_takes_redshifts_two_levels(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """SNAPSHOT (the default of new clusters and workgroups) or SERIALIZABLE ("Isolation levels in
    Amazon Redshift", https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html)."""
    parser = build_parser()
    assert parser.parse_args(["local", command]).isolation_level == "SNAPSHOT"
    assert parser.parse_args(["local", command, "--isolation-level", "serializable"]).isolation_level == (
        "SERIALIZABLE"
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["local", command, "--isolation-level", "read-committed"])
    assert "invalid choice" in capsys.readouterr().err


def test_put_to_a_missing_bucket_says_what_s3_answered_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """boto3's upload_file wraps S3's NoSuchBucket in S3UploadFailedError, not a ClientError."""
    from rsetl.awsproto import LocalServer, Router
    from rsetl.s3 import S3Service

    router = Router()
    router.register(S3Service(), fallback=True)
    with LocalServer(router) as server:
        write_endpoint(
            tmp_path, EndpointInfo(server.url, os.getpid(), "us-east-1", "test", "test", "rsetl", {}, {})
        )
        code = main(["local", "--state-dir", str(tmp_path), "put", __file__, "s3://nobucket/key.csv"])

    err = capsys.readouterr().err
    assert code == 1
    assert "NoSuchBucket" in err
    assert "Traceback" not in err


VERBS = [*CLIENT_COMMANDS, ["up"], ["demo"]]


@pytest.mark.parametrize("command", VERBS, ids=lambda c: c[0])
def test_the_state_dir_goes_before_or_after_the_verb(command: list[str]) -> None:
    """`rsetl local up --state-dir D` is the form the CLI's own hints print; both forms mean D."""
    before = build_parser().parse_args(["local", "--state-dir", "/tmp/d", *command])
    after = build_parser().parse_args(["local", *command, "--state-dir", "/tmp/d"])

    assert before.state_dir == Path("/tmp/d")
    assert after.verb_state_dir == Path("/tmp/d")


def test_the_hint_of_a_client_command_is_a_command_that_parses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "executions", "--state-dir", str(tmp_path)]) == 2

    hint = capsys.readouterr().err.split("`")[1]
    assert build_parser().parse_args(hint.split()[1:]).verb_state_dir == tmp_path


def test_two_different_state_dirs_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["local", "--state-dir", "/tmp/a", "executions", "--state-dir", "/tmp/b"])

    assert exit_.value.code == 2
    assert "--state-dir is given twice with different folders" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [
        ["up", "--port", "70000"],
        ["up", "--port", "-1"],
        ["up", "--port", "http"],
        ["events", "--limit", "0"],
        ["up", "--statement-workers", "0"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["local", *arguments])

    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_up_on_a_port_in_use_says_so_before_starting_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        code = main(["local", "up", "--state-dir", str(state_dir), "--port", str(port),
                     "--project-dir", str(PROJECT_DIR)])  # fmt: skip

    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        f"rsetl: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "stop what holds it or pass another --port"
    )
    assert "starting PostgreSQL" not in captured.err
    assert not (state_dir / "postgres").exists()


def test_up_refuses_a_state_dir_another_up_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = hold_state_dir(tmp_path)  # as the running `up` holds it
    try:
        code = main(["local", "up", "--state-dir", str(tmp_path), "--project-dir", str(PROJECT_DIR)])
    finally:
        held.close()

    assert code == 2
    err = capsys.readouterr().err
    assert f"another `rsetl local up` (pid {os.getpid()}) serves {tmp_path}" in err
    assert not (tmp_path / "postgres").exists()


@pytest.mark.parametrize("verb", [["up"], ["executions"]], ids=lambda c: c[0])
def test_a_state_dir_that_is_a_file_is_one_line_and_exit_2(
    verb: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    assert main(["local", *verb, "--state-dir", str(not_a_folder)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a folder" in err


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=lambda c: c[0])
def test_an_endpoint_that_does_not_answer_is_one_line_and_exit_1(
    command: list[str], endpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """endpoint.json names a live process, but nothing listens on its port (e.g. it hangs)."""
    code = main(["local", *command, "--state-dir", str(endpoint)])

    err = capsys.readouterr().err
    assert (code, err.count("\n")) == (1, 1), err
    assert err.startswith("rsetl: the local endpoint answered: ") and "127.0.0.1:9" in err


def test_events_against_an_endpoint_that_does_not_answer_is_one_line(
    endpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "events", "--state-dir", str(endpoint)]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach http://127.0.0.1:9" in err


def test_credentials_are_access_key_secret_pairs_the_first_being_the_clis_own() -> None:
    args = build_parser().parse_args(["local", "up", "--credentials", "alice=s1", "bob=s2"])

    assert list(parse_credentials(args.credentials).items()) == [("alice", "s1"), ("bob", "s2")]
    assert parse_credentials([]) == {"test": "test"}


def test_a_credentials_file_is_an_aws_shared_credentials_file(tmp_path: Path) -> None:
    """The file's profiles are also usable by the AWS CLI and SDKs (AWS_SHARED_CREDENTIALS_FILE).

    AWS SDKs and Tools Reference Guide, "The shared config and credentials files",
    https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html
    """
    path = tmp_path / "credentials"
    path.write_text(
        "[alice]\naws_access_key_id = AKIAALICE\naws_secret_access_key = s/1+x\n\n"
        "[bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = s2\n"
    )

    assert parse_credentials(["first=f"], path) == {"first": "f", "AKIAALICE": "s/1+x", "AKIABOB": "s2"}


@pytest.mark.parametrize(
    ("items", "file_text", "message"),
    [
        (["alice"], None, "is not ACCESS_KEY=SECRET"),
        (["alice="], None, "is not ACCESS_KEY=SECRET"),
        (["al/ice=s"], None, "is not ACCESS_KEY=SECRET"),
        (["alice=s1", "alice=s2"], None, "access key alice is given twice with different secrets"),
        ([], "[alice]\naws_access_key_id = a\n", "needs aws_access_key_id and aws_secret_access_key"),
        ([], "", "holds no [profile] with access keys"),
        ([], "aws_access_key_id = a\n", "File contains no section headers"),
    ],
)
def test_bad_credentials_are_usage_errors(
    items: list[str], file_text: str | None, message: str, tmp_path: Path
) -> None:
    path = None
    if file_text is not None:
        path = tmp_path / "credentials"
        path.write_text(file_text)
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_credentials(items, path)


def test_a_delivery_made_again_after_a_stop_says_so() -> None:
    made_again = {"status": "SUCCEEDED", "attempts": 2, "invocation": None, "redeliveries": 1}
    assert delivery_text(made_again) == "SUCCEEDED (2), redelivered 1x after a stop"
    assert delivery_text({**made_again, "redeliveries": 0}) == "SUCCEEDED (2)"


def test_the_start_up_report_names_restarted_executions_redelivered_events_and_sent_notifications() -> None:
    old = "arn:aws:states:us-east-1:000000000000:execution:RunPipeline:run-1"
    rule, day = "arn:aws:events:us-east-1:000000000000:rule", datetime(2026, 11, 7, tzinfo=UTC)
    recovery = Recovery(
        [
            Restart(old, f"{old}-restart-1"),
            Restart(f"{old}b", None),
            Restart(f"{old}c", None, "OperationalError: database or disk is full"),
        ],
        [DeliveryRecord(3, "event-9", "aws.s3", "t", "arn:aws:states:us-east-1:0:stateMachine:M", "{}")],
        [ObjectNotification("landing", "sales/a.csv", "PutObject", "req-1", "000000000000")],
        [
            MissedFires(f"{rule}/hourly", 4, day, day + timedelta(hours=3)),
            MissedFires(f"{rule}/nightly", 1, day, day),
            MissedFires(f"{rule}/minutely", 10_000, day, day + timedelta(minutes=9999), more=True),
        ],
    )
    runtime = SimpleNamespace(
        recovery=recovery, report=SimpleNamespace(not_emulated=[]), lambdas=SimpleNamespace(warnings=[]),
        function_errors={},
    )  # fmt: skip
    out = Console(record=True, width=400)
    print_startup_problems(runtime, out)  # type: ignore[arg-type]
    assert out.export_text().splitlines() == [
        f"restarted: {old} was RUNNING when the runtime stopped; started again as {old}-restart-1",
        f"restarted: {old}b was RUNNING when the runtime stopped; not restarted",
        f"not restarted: {old}c was RUNNING when the runtime stopped and could not be started again: "
        "OperationalError: database or disk is full",
        "redelivered: event event-9 (aws.s3) to arn:aws:states:us-east-1:0:stateMachine:M: its delivery had "
        "not ended when the runtime stopped",
        "notified: 1 S3 notifications sent after a stop (objects stored before it, their events not yet "
        "journaled): s3://landing/sales/a.csv (PutObject)",
        f"missed: {rule}/hourly fell due 4 times while the runtime was down (2026-11-07T00:00:00Z to "
        "2026-11-07T03:00:00Z); not fired late, as EventBridge fires no past instant",
        f"missed: {rule}/nightly fell due 1 time while the runtime was down (2026-11-07T00:00:00Z); not "
        "fired late, as EventBridge fires no past instant",
        f"missed: {rule}/minutely fell due 10000+ times while the runtime was down (2026-11-07T00:00:00Z to "
        "2026-11-13T22:39:00Z); not fired late, as EventBridge fires no past instant",
    ]


def test_the_cli_starts_pipelines_on_run_pipeline_among_several_machines() -> None:
    run, refresh = (f"arn:aws:states:us-east-1:000000000000:stateMachine:{n}" for n in ("run", "refresh"))
    machines = {"RefreshViewsStateMachine": refresh, "RunPipelineStateMachine": run}
    info = EndpointInfo("http://127.0.0.1:9", os.getpid(), "us-east-1", "test", "test", "rsetl", machines, {})
    assert LocalClients(info).pipeline_machine_arn() == run
    other = EndpointInfo(
        "http://127.0.0.1:9", os.getpid(), "us-east-1", "t", "t", "rsetl", {"A": run, "B": refresh}, {}
    )
    with pytest.raises(EndpointError, match="cannot tell which state machine"):
        LocalClients(other).pipeline_machine_arn()
