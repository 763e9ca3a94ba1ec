"""The `rsetl local` command line without a running runtime: arguments, usage errors and their exit codes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rsetl.cli import build_parser, main
from rsetl.cli.demo import run_demo
from rsetl.cli.local import UsageError, delivery_text, parse_database_secrets, parse_s3_uri
from rsetl.runtime import DEFAULT_STATE_DIR, EndpointInfo
from rsetl.runtime.state import write_endpoint

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
        EndpointInfo("http://127.0.0.1:9", os.getpid(), "us-east-1", "test", "test", "rsetl", {}, {}),
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
