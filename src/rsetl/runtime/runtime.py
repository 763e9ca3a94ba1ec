"""The local runtime: every service the product uses, on one 127.0.0.1 port, wired from template.yaml.

Longer than 400 lines because it is the one place where the services meet: their construction in
start-up order, the hooks between them, and their stop in the reverse order read best together.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from rsetl.awsproto import (
    DEFAULT_CREDENTIALS,
    CallerIdentity,
    LocalServer,
    Router,
    SigV4Verifier,
    ensure_port_free,
)
from rsetl.awsproto.clients import local_client
from rsetl.clock import Clock, RealClock
from rsetl.cloudformation import CloudFormationService
from rsetl.console.pages import MOUNT as CONSOLE_MOUNT
from rsetl.console.pages import PREFIX as CONSOLE_PREFIX
from rsetl.console.pages import ConsolePages
from rsetl.console.views import RunSource
from rsetl.eventbridge import EventBridge, EventsService, Scheduler
from rsetl.eventbridge.delivery import DeliveryRecord
from rsetl.eventbridge.scheduler import MissedFires
from rsetl.iam import Caller, LocalIam
from rsetl.journal import Journal
from rsetl.lambdas import FunctionConfig, LambdaRuntime, LayerConfig
from rsetl.lambdas.asynchronous import AsyncInvocation, AsyncInvoker
from rsetl.lambdas.event_source_mapping import SqsPoller
from rsetl.lambdas.runtime import DEFAULT_IDLE_SECONDS
from rsetl.postgres import DEFAULT_ISOLATION_LEVEL, ISOLATION_LEVELS, PostgresServer, StartingServer
from rsetl.redshift_data import (
    ADMIN_USER,
    STATEMENT_WORKERS,
    DatabaseAuth,
    DatabaseLogin,
    RedshiftDataService,
)
from rsetl.redshift_sql import RedshiftSqlRunner
from rsetl.runtime.access import InProcessAccess
from rsetl.runtime.admin import AdminService
from rsetl.runtime.endpoints import check_served, local_aws_environment
from rsetl.runtime.sql_apply import AppliedFile, apply_sql_folder
from rsetl.runtime.state import EndpointInfo, clear_endpoint, write_endpoint
from rsetl.runtime.template import load_local_template
from rsetl.runtime.wiring import (
    WiringReport,
    not_emulated_names,
    state_machines,
    wire_buckets,
    wire_event_buses,
    wire_event_invoke_configs,
    wire_event_source_mappings,
    wire_queues,
    wire_rules,
    wire_schedules,
)
from rsetl.s3 import S3Service
from rsetl.s3.notifications import ObjectNotification
from rsetl.sqs import SqsService
from rsetl.stepfunctions import StepFunctionsEngine
from rsetl.stepfunctions.restarts import Restart
from rsetl.stepfunctions.service import StatesService
from rsetl.template import LocalTemplate
from rsetl.template.pipelines import load_pipelines

logger = logging.getLogger(__name__)


@dataclass
class RuntimeOptions:
    """How to start the local runtime."""

    project_dir: Path
    state_dir: Path
    port: int = 0
    clock: Clock = field(default_factory=RealClock)
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    config_env: str = "local"
    """The samconfig.toml config environment whose parameters the runtime deploys with."""
    database_url: str | None = None
    credentials: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CREDENTIALS))
    apply_sql: bool = True
    admin_user: str = ADMIN_USER
    """The cluster's admin user (a superuser); it applies sql/, as a deployer would."""
    database_secrets: Mapping[str, str] = field(default_factory=dict)
    """SecretArn to the database user its secret holds; a request naming another secret fails."""
    isolation_level: str = DEFAULT_ISOLATION_LEVEL
    """The `dev` database's Redshift isolation level: SNAPSHOT (the default of new provisioned
    clusters and Serverless workgroups) or SERIALIZABLE, as `ALTER DATABASE dev ISOLATION LEVEL`
    sets it."""
    stop_grace_seconds: float = 10.0
    """On stop, how long running Data API statements may go on before they are cancelled."""
    statement_workers: int = STATEMENT_WORKERS
    """Data API statements that run at once; later ones wait SUBMITTED for a free worker."""
    lambda_prewarm: int = 0
    """Workers started per function at start-up (provisioned concurrency, locally); by default
    workers start on demand, as Lambda's execution environments do."""
    lambda_idle_seconds: float | None = DEFAULT_IDLE_SECONDS
    """How long a Lambda worker stays warm after its last invocation (None: until stop)."""
    lambda_concurrency: int | None = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    """Most workers per function at once; invocations past it wait for a free one (None: no cap).

    More Python worker processes than cores only adds start-up time on one machine.
    """


@dataclass(frozen=True)
class Recovery:
    """What start-up found unfinished in the journal of the last run, and did about it."""

    restarted: list[Restart] = field(default_factory=list)
    """Executions that were RUNNING: each ended ABORTED and started again from its input."""
    redelivered: list[DeliveryRecord] = field(default_factory=list)
    """Deliveries that had not ended: each made again."""
    notified: list[ObjectNotification] = field(default_factory=list)
    """S3 notifications of objects stored before the stop whose events were not journaled: each sent."""
    missed: list[MissedFires] = field(default_factory=list)
    """Schedules that fell due while the runtime was down: not fired late, as EventBridge would not."""


class LocalRuntime:
    """Starts PostgreSQL and the local services, wires the template into them, serves one port."""

    def __init__(self, options: RuntimeOptions, template: LocalTemplate | None = None) -> None:
        """`template`: the options' template when the caller loaded it already (`load_local_template`)."""
        self.options = options
        self.clock = options.clock
        self.template: LocalTemplate = template or load_local_template(
            options.project_dir, options.parameter_overrides, options.config_env
        )
        self.report = WiringReport(not_emulated=not_emulated_names(self.template))
        self.access_key, self.secret_key = next(iter(options.credentials.items()))
        self.iam = LocalIam(self.template, now=self.clock.now, on_denied=self._log_denial)
        for access_key, secret_key in options.credentials.items():
            self.iam.callers.add_administrator(access_key, secret_key)
        self._function_callers = {
            function.ref: self.iam.function_caller(function)
            for function in self.template.of_type("AWS::Lambda::Function")
        }
        self.postgres: PostgresServer | None = None
        self._starting_postgres: StartingServer | None = None
        self.server: LocalServer | None = None
        self.lambdas: LambdaRuntime | None = None
        self.redshift_data: RedshiftDataService | None = None
        self.events = EventBridge(
            clock=self.clock, account_id=self.template.account_id, region=self.template.region
        )
        self.scheduler = Scheduler(self.events)
        self.s3 = S3Service(event_sink=self.events.publish, state_dir=options.state_dir / "s3")
        self.sqs = SqsService(
            self.template.account_id, self.template.region, options.clock, state_dir=options.state_dir / "sqs"
        )
        self.async_lambda: AsyncInvoker | None = None
        self.queue_pollers: list[SqsPoller] = []
        self.applied_sql: list[AppliedFile] = []
        self.journal: Journal | None = None
        self.recovery = Recovery()
        self.function_errors: dict[str, dict[str, Any]] = {}
        """Init errors of functions whose handler cannot be imported, by function name (at start)."""

    @property
    def url(self) -> str:
        assert self.server is not None, "the runtime is not started"
        return self.server.url

    def client(self, service: str) -> Any:
        """A boto3 client of `service` at this runtime's endpoint, signed as its administrator."""
        return local_client(service, self.url, self.template.region, self.access_key, self.secret_key)

    def start(
        self, on_progress: Callable[[str], None] | None = None, postgres: StartingServer | None = None
    ) -> LocalRuntime:
        """Bring everything up; `on_progress` hears one line per phase. `postgres`: the embedded server
        of `state_dir/postgres`, started already (`up` starts it before the runtime's imports); it is
        stopped with the runtime, also when the start fails."""
        self._starting_postgres = postgres
        collecting = gc.isenabled()
        # Start-up allocates much and frees little (the journal's history, the wiring): a collection
        # meanwhile only costs time.
        gc.disable()
        try:
            return self._start(on_progress)
        finally:
            if collecting:
                gc.enable()

    def _start(self, on_progress: Callable[[str], None] | None) -> LocalRuntime:
        say = on_progress or (lambda line: logger.info(line))
        options, template = self.options, self.template
        if options.isolation_level not in ISOLATION_LEVELS:
            raise ValueError(
                f"isolation level {options.isolation_level!r} is not one of {', '.join(ISOLATION_LEVELS)}"
            )
        ensure_port_free(options.port)
        options.state_dir.mkdir(parents=True, exist_ok=True)
        if not options.database_url:
            say("starting PostgreSQL")
            # Copying its data directory and waiting for pg_ctl are waits on other processes: the
            # journal loads and what needs no database is wired meanwhile.
            if self._starting_postgres is None:
                self._starting_postgres = StartingServer(options.state_dir / "postgres")
        self.journal = Journal.in_state_dir(options.state_dir)
        self.events.keep_in(self.journal)
        self.scheduler.keep_in(self.journal)
        router = Router(
            SigV4Verifier(self.iam.callers.secrets()), template.account_id, template.region, self._identity
        )
        self.server = LocalServer(router, options.port)
        environment = local_aws_environment(self.url, template.region, self.access_key, self.secret_key)
        self.lambdas = LambdaRuntime(
            self._function_configs(), extra_environment=environment, region=template.region,
            work_dir=options.state_dir / "lambda", log_dir=options.state_dir / "logs",
            max_workers_per_function=options.lambda_concurrency, on_progress=say,
            idle_seconds=options.lambda_idle_seconds,
        )  # fmt: skip
        self.lambdas.prewarm(options.lambda_prewarm)
        # The handlers import while PostgreSQL starts and sql/ applies: both wait on other processes.
        init_check = self.lambdas.start_init_check()
        self.async_lambda = AsyncInvoker(self.lambdas, self.clock, self._send_to_destination)
        self.stepfunctions = StepFunctionsEngine(
            self.clock, lambda_invoker=self.lambdas, lambda_authorizer=self._authorize_lambda_task,
            states_authorizer=self._authorize_states_task, task_credentials=self._task_credentials,
            endpoint_url=self.url,
            credentials=(self.access_key, self.secret_key), region=template.region,
            account_id=template.account_id, status_events=self._publish_one, journal=self.journal,
        )  # fmt: skip
        self.access = InProcessAccess(self.iam, self.stepfunctions)
        self.events.dispatcher.authorizer = self.access.delivery
        self.events.dispatcher.dead_letter_authorizer = self.access.dead_letter
        say("wiring template.yaml")
        self._wire()
        if self._starting_postgres is not None:
            self.postgres, self._starting_postgres = self._starting_postgres.result(), None
        else:
            self.postgres = PostgresServer.from_url(str(options.database_url))
        self.postgres.create_database("dev", options.isolation_level)
        self.sql_runner = RedshiftSqlRunner(self.s3)
        self.redshift_data = RedshiftDataService(
            self.postgres.conninfo, self.sql_runner, clock=self.clock,
            event_sink=self._publish_one, auth=self._database_auth(),
            workgroup_ids=_workgroup_ids(template), workers=options.statement_workers,
            results_dir=options.state_dir / "redshift-data" / "results",
        )  # fmt: skip
        users = self.redshift_data.users
        if options.apply_sql:
            say("applying sql/")
            with psycopg.connect(users.conninfo("dev", users.admin()), autocommit=True) as conn:
                self.applied_sql = apply_sql_folder(conn, options.project_dir / "sql", self.sql_runner)
        for user in options.database_secrets.values():
            # A secret holds the credentials of a user that exists (the deployer created it).
            users.ensure(DatabaseLogin(user))
        self.function_errors = init_check.errors()
        router.register(self.redshift_data)
        router.register(EventsService(self.events))
        router.register(StatesService(self.stepfunctions, self.access.state_machine_trust))
        router.register(self.sqs)
        router.register(CloudFormationService(template, self.clock.now()))
        router.register(AdminService(self.events))
        router.register(self.s3, fallback=True)
        check_served(router)
        router.mount(CONSOLE_MOUNT, ConsolePages(self._run_source()).handle)
        self.server.start()
        self.recovery = Recovery(
            self.stepfunctions.restart_interrupted(),
            self.events.redeliver_unfinished(),
            self.s3.send_pending_notifications(),
            self.scheduler.resume(),
        )
        for poller in self.queue_pollers:
            poller.start()
        if isinstance(self.clock, RealClock):
            self.scheduler.start()
        return self

    @property
    def console_url(self) -> str:
        """The run page's address (pipelines, executions and their chain of events)."""
        return self.url + CONSOLE_PREFIX

    def _run_source(self) -> RunSource:
        """What the run page reads: the live services, which loaded the journal at start-up."""
        engine, data = self.stepfunctions, self.redshift_data

        def definition(machine_arn: str) -> dict[str, Any]:
            machine = engine.machines.get(machine_arn)
            return machine.definition if machine is not None else {}

        def statements() -> list[dict[str, Any]]:
            now = self.clock.now()
            held = data.statements() if data is not None else []
            return [{**s.describe(now), "StatementName": s.request.get("StatementName")} for s in held]

        return RunSource(
            pipelines=load_pipelines(self.template.path),
            executions=lambda: list(engine.executions.values()),
            definition=definition,
            events=self.events.events,
            deliveries=self.events.deliveries,
            statements=statements,
            now=self.clock.now,
            virtual_clock=not isinstance(self.clock, RealClock),
        )

    def _database_auth(self) -> DatabaseAuth:
        """Database users from the options, IAM role tags (RedshiftDbRoles) from the template."""
        role_tags = {
            role.ref: {str(tag["Key"]): str(tag["Value"]) for tag in role.properties.get("Tags") or []}
            for role in self.template.of_type("AWS::IAM::Role")
        }
        return DatabaseAuth(self.options.admin_user, dict(self.options.database_secrets), role_tags)

    def function_caller(self, function_name: str) -> Caller:
        """The role session a function's code signs with (its environment holds these keys)."""
        return self._function_callers[function_name]

    def _identity(self, access_key: str) -> CallerIdentity | None:
        found = self.iam.authorizer(access_key)
        if found is None:
            return None
        caller, authorizer = found
        return CallerIdentity(caller.userid, caller.role_name, authorizer)

    # Late-bound: the engine takes these hooks, and InProcessAccess needs the engine.
    def _authorize_lambda_task(self, request: Any, function: str) -> None:
        self.access.lambda_task(request, function)

    def _authorize_states_task(self, request: Any, machine_arn: str) -> None:
        self.access.states_task(request, machine_arn)

    def _task_credentials(self, request: Any) -> tuple[str, str]:
        return self.access.task_credentials(request)

    def _log_denial(self, caller: Caller, message: str) -> None:
        """A function's denied call also goes to its log (where CloudWatch would show its error)."""
        if caller.session_name not in self._function_callers:
            return
        log_dir = self.options.state_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{caller.session_name}.log").open("a") as log:
            log.write(f"[rsetl local IAM] AccessDenied: {message}\n")

    def set_isolation_level(self, level: str) -> None:
        """Change the `dev` database's isolation level, as `ALTER DATABASE dev ISOLATION LEVEL` does.

        Statements started afterwards run under `level`: pooled connections are dropped.
        """
        assert self.postgres is not None and self.redshift_data is not None, "the runtime is not started"
        self.postgres.set_isolation_level("dev", level)
        self.redshift_data.close_idle_connections()
        self.options.isolation_level = level

    def _publish_one(self, entry: dict[str, Any]) -> None:
        self.events.publish([entry])

    def _function_configs(self) -> list[FunctionConfig]:
        template = self.template
        layers = {
            layer.ref: LayerConfig(
                layer.local_path, layer.metadata.get("BuildMethod"), layer.properties.get("LayerName")
            )
            for layer in template.of_type("AWS::Lambda::LayerVersion")
            if layer.local_path is not None
        }
        configs = []
        for function in template.of_type("AWS::Lambda::Function"):
            props = function.properties
            if function.local_path is None:
                raise RuntimeError(f"{function.logical_id}: only local CodeUri folders run locally")
            function_layers = tuple(layers[arn] for arn in props.get("Layers", []) if arn in layers)
            caller = self._function_callers[function.ref]
            configs.append(
                FunctionConfig(
                    name=function.ref,
                    arn=function.arn,
                    code_dir=function.local_path,
                    handler=props.get("Handler", "app.lambda_handler"),
                    layers=function_layers,
                    environment={
                        **{
                            k: str(v)
                            for k, v in (props.get("Environment") or {}).get("Variables", {}).items()
                        },
                        **role_session_environment(caller),
                    },
                    timeout_seconds=float(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    runtime=props.get("Runtime"),
                )
            )
            self.report.add(function)
        return configs

    def _wire(self) -> None:
        template, report = self.template, self.report
        for layer in template.of_type("AWS::Lambda::LayerVersion"):
            report.add(layer)
        wire_queues(template, self.sqs, report)
        self.events.dead_letters.forward_to(
            lambda arn, message: self.sqs.send_message(arn, message.body, message.attributes)
        )
        assert self.async_lambda is not None
        wire_event_invoke_configs(template, self.async_lambda, report)
        wire_buckets(template, self.s3, report)
        for machine, definition in state_machines(template):
            props = machine.properties
            untrusted = self.access.state_machine_trust(machine.arn, str(props.get("RoleArn", "")))
            if untrusted is not None:
                raise RuntimeError(f"{machine.logical_id}: AccessDeniedException: {untrusted}")
            self.stepfunctions.create_state_machine(
                machine.attributes["Name"], definition, str(props.get("RoleArn", "")),
                str(props.get("StateMachineType", "STANDARD")),
            )  # fmt: skip
            report.add(machine)
        assert self.lambdas is not None
        self.queue_pollers = wire_event_source_mappings(
            template, self.sqs, self.lambdas, self.clock, self.access.queue_poll, report
        )
        self.events.invoker.add_resolver(self._target_handler)
        wire_event_buses(template, self.events, report)
        wire_rules(template, self.events, report)
        wire_schedules(template, self.scheduler, report)

    def _target_handler(self, arn: str) -> Callable[[str], object] | None:
        if arn.startswith("arn:aws:states:"):
            return lambda payload: self._start_from_event(arn, payload)
        if arn.startswith("arn:aws:lambda:"):
            return lambda payload: self._invoke_async(arn, payload)
        if arn.startswith("arn:aws:sqs:"):
            return lambda payload: self.sqs.send_message(arn, payload)
        return None

    def _start_from_event(self, machine_arn: str, payload: str) -> None:
        self.stepfunctions.start_execution(machine_arn, json.loads(payload))

    def _invoke_async(self, function_arn: str, payload: str) -> AsyncInvocation:
        assert self.async_lambda is not None
        return self.async_lambda.invoke(function_arn, payload)

    def _send_to_destination(self, arn: str, record: str) -> None:
        """An asynchronous invocation's record to its destination: an SQS queue of the template."""
        if arn.startswith("arn:aws:sqs:"):
            self.sqs.send_message(arn, record)
            return
        raise RuntimeError(
            f"destination {arn}: the local runtime sends invocation records to SQS queues only"
        )

    def busy(self) -> bool:
        """Whether anything is still under way: deliveries, executions or asynchronous invocations."""
        if self.async_lambda is not None and self.async_lambda.pending():
            return True
        if self.events.dispatcher.in_flight():
            return True
        if any(poller.busy() for poller in self.queue_pollers):
            return True
        return any(e.status == "RUNNING" for e in list(self.stepfunctions.executions.values()))

    def settle(self, timeout: float = 600.0, on_tick: Callable[[], None] | None = None) -> bool:
        """Wait (in real time) until nothing is under way twice in a row; False on timeout."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if on_tick is not None:
                on_tick()
            quiet = 0 if self.busy() else quiet + 1
            if quiet >= 2:
                return True
            time.sleep(0.1)
        return False

    def write_endpoint(self) -> Path:
        """Record the endpoint in the state directory for the CLI's other commands."""
        machines = {m.logical_id: m.arn for m in self.template.of_type("AWS::StepFunctions::StateMachine")}
        buckets = {b.logical_id: b.ref for b in self.template.of_type("AWS::S3::Bucket")}
        info = EndpointInfo(
            self.url, os.getpid(), self.template.region, self.access_key, self.secret_key,
            self.template.stack_name, machines, buckets,
        )  # fmt: skip
        return write_endpoint(self.options.state_dir, info)

    def stop(self) -> None:
        """Stop accepting work, let running statements end (bounded), then shut down, PostgreSQL last.

        The endpoint file goes once the port is closed, so a client that finds it can connect. The
        journal closes then too: executions running and deliveries not ended are restarted and made
        again by the next start.
        """
        self.scheduler.stop()
        for poller in self.queue_pollers:
            poller.stop()
        if self.journal is not None:
            # An execution that fails from now on fails because of the stop (its functions can no
            # longer reach the endpoint): it stays RUNNING in the journal and the next start runs it
            # again. What the draining port still acknowledges (events, starts) is journaled.
            self.journal.acknowledgements_only()
        if self.server is not None:
            self.server.stop()
        clear_endpoint(self.options.state_dir)
        if self.journal is not None:
            # What is cut short from here on (executions, deliveries) stays unfinished in the journal,
            # so the next start finishes it, as after a crash; none is recorded as failed by the stop.
            self.journal.close()
        self.events.close()
        if self.async_lambda is not None:
            self.async_lambda.close()
        if self.redshift_data is not None:
            ended, cancelled = self.redshift_data.stop_statements(self.options.stop_grace_seconds)
            if ended or cancelled:
                logger.warning(
                    "stopping: %d running statement(s) ended within the %g s grace, %d cancelled",
                    ended, self.options.stop_grace_seconds, cancelled,
                )  # fmt: skip
        if self.lambdas is not None:
            self.lambdas.close()
        if self.redshift_data is not None:
            self.redshift_data.close()
        if self.postgres is not None:
            self.postgres.stop()
        elif self._starting_postgres is not None:
            # The start failed before it waited for the server: it must not outlive the runtime.
            self._starting_postgres.stop()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def role_session_environment(caller: Caller) -> dict[str, str]:
    """A function's credentials, as Lambda sets them: its execution role's session keys."""
    return {
        "AWS_ACCESS_KEY_ID": caller.access_key,
        "AWS_SECRET_ACCESS_KEY": caller.secret_key,
        "AWS_SESSION_TOKEN": f"rsetl-local-session-{caller.access_key}",
    }


def _workgroup_ids(template: LocalTemplate) -> dict[str, str]:
    name, workgroup_id = template.parameters.get("WorkgroupName"), template.parameters.get("WorkgroupId")
    return {name: workgroup_id} if name and workgroup_id else {}
