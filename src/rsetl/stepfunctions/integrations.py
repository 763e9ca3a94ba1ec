"""Service integrations a Task state calls: a pluggable registry keyed by service.

Resources understood (Step Functions developer guide, "Integrating services"):
- `arn:aws:lambda:<region>:<account>:function:<name>` (the Lambda ARN as Resource)
- `arn:aws:states:::lambda:invoke`, `arn:aws:states:::events:putEvents`,
  `arn:aws:states:::states:startExecution` with the `.sync`, `.sync:2`, `.waitForTaskToken` suffixes
- `arn:aws:states:::aws-sdk:<service>:<action>`, calling boto3 against the local endpoint
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError

from rsetl.awsproto.clients import LOCAL_KEYS, local_client
from rsetl.lambdas.exceptions import LambdaServiceError
from rsetl.stepfunctions.exceptions import StatesError

_OPTIMIZED = re.compile(
    r"^arn:aws[\w-]*:states:::(?P<service>[\w-]+(?::[\w-]+)?):(?P<action>[A-Za-z0-9]+)(?:\.(?P<pattern>sync(?::2)?|waitForTaskToken))?$"
)
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(?::[\w$-]+)?$")


@dataclass
class TaskRequest:
    """One call from a Task state to a service integration."""

    resource: str
    service: str
    action: str
    pattern: str
    parameters: Any
    state_name: str
    execution_arn: str
    region: str
    account_id: str
    task_token: str | None = None

    @property
    def resource_type(self) -> str:
        """What history events name the integration: `lambda`, `events`, `aws-sdk:redshiftdata`..."""
        return self.service

    @property
    def resource_name(self) -> str:
        """The history events' `resource`: the action with its pattern suffix."""
        return f"{self.action}.{self.pattern}" if self.pattern else self.action

    @property
    def is_lambda_arn(self) -> bool:
        return self.action == "" and self.service == "lambda"


class ServiceIntegration(Protocol):
    """What the interpreter needs from an integration: run one request, return its result."""

    def call(self, request: TaskRequest) -> Any:
        """Return the task's result, or raise StatesError with the error AWS would report."""
        ...


class LambdaInvoker(Protocol):
    """The local Lambda runtime as the Lambda integration sees it."""

    def invoke(self, function_name_or_arn: str, payload: Any) -> Any:
        """An object with `payload` and `function_error` (None, or "Unhandled")."""
        ...


class ExecutionStarter(Protocol):
    """The local Step Functions engine as `states:startExecution` sees it."""

    def start_for_task(
        self, parameters: Mapping[str, Any], wait: bool, parent_execution_arn: str
    ) -> dict[str, Any]:
        """Start a child execution; when `wait`, run it to its end and return DescribeExecution."""
        ...


class IntegrationRegistry:
    """Integrations by service key: `lambda`, `events`, `states`, `aws-sdk` (any SDK service)."""

    def __init__(self, integrations: Mapping[str, ServiceIntegration] | None = None) -> None:
        self._integrations: dict[str, ServiceIntegration] = dict(integrations or {})

    def register(self, service: str, integration: ServiceIntegration) -> None:
        """Add or replace the integration for `service` (e.g. the EventBridge bus for `events`)."""
        self._integrations[service] = integration

    def request(self, resource: str, **fields: Any) -> tuple[ServiceIntegration, TaskRequest]:
        """The integration for `resource` and the request it will get."""
        if _LAMBDA_ARN.match(resource):
            service, action, pattern, key = "lambda", "", "", "lambda"
        else:
            match = _OPTIMIZED.match(resource)
            if match is None:
                raise StatesError("States.Runtime", f"Unsupported Task Resource {resource!r}")
            service, action, pattern = match["service"], match["action"], match["pattern"] or ""
            key = "aws-sdk" if service.startswith("aws-sdk:") else service
        integration = self._integrations.get(key)
        if integration is None:
            raise StatesError(
                "States.Runtime", f"No local integration is configured for {key!r} (resource {resource!r})"
            )
        return integration, TaskRequest(
            resource=resource, service=service, action=action, pattern=pattern, **fields
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def lambda_error(payload: Any) -> StatesError:
    """The error Step Functions reports for a Lambda function error payload."""
    if isinstance(payload, dict):
        error = payload.get("errorType") or "Lambda.Unknown"
        return StatesError(str(error), json.dumps(payload))
    return StatesError("Lambda.Unknown", json.dumps(payload))


TaskCredentials = Callable[[TaskRequest], tuple[str, str]]
"""The access key and secret a task's SDK calls sign with: a session of the execution's role."""

TaskAuthorizer = Callable[[TaskRequest, str], None]
"""Checks that the execution's role may call the task's target (a function's name or ARN, a child
state machine's ARN); raises the StatesError Step Functions reports when it may not."""


class LambdaIntegration:
    """Lambda through the local runtime: the function ARN form and `lambda:invoke`."""

    def __init__(self, invoker: LambdaInvoker, authorize: TaskAuthorizer | None = None) -> None:
        self._invoker = invoker
        self._authorize = authorize

    def call(self, request: TaskRequest) -> Any:
        try:
            return self._call(request)
        except LambdaServiceError as error:
            raise StatesError(f"Lambda.{error.code}", str(error)) from None

    def _call(self, request: TaskRequest) -> Any:
        if request.is_lambda_arn:
            if self._authorize is not None:
                self._authorize(request, request.resource)
            result = self._invoker.invoke(request.resource, request.parameters)
            if result.function_error:
                raise lambda_error(result.payload)
            return result.payload
        if request.action != "invoke":
            raise StatesError("States.Runtime", f"Unsupported Lambda action {request.action!r}")
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        function = parameters.get("FunctionName")
        if not isinstance(function, str):
            raise StatesError(
                "States.Runtime", "lambda:invoke needs a FunctionName string in its Parameters/Arguments"
            )
        if self._authorize is not None:
            self._authorize(request, function)
        result = self._invoker.invoke(function, parameters.get("Payload"))
        if result.function_error:
            raise lambda_error(result.payload)
        request_id = str(uuid.uuid4())
        return {
            "ExecutedVersion": "$LATEST",
            "Payload": result.payload,
            "SdkHttpMetadata": {
                "HttpHeaders": {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id},
                "HttpStatusCode": 200,
            },
            "SdkResponseMetadata": {"RequestId": request_id},
            "StatusCode": 200,
        }


class EventsIntegration:
    """`events:putEvents` through any boto3-like client with `put_events(Entries=...)`.

    With `client_for`, each task gets the client signed as its execution's role instead.
    """

    def __init__(self, client: Any, client_for: Callable[[TaskRequest], Any] | None = None) -> None:
        self._client = client
        self._client_for = client_for

    def call(self, request: TaskRequest) -> Any:
        if request.action != "putEvents":
            raise StatesError("States.Runtime", f"Unsupported EventBridge action {request.action!r}")
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        entries = []
        for entry in parameters.get("Entries", []):
            entry = dict(entry)
            if not isinstance(entry.get("Detail", ""), str):
                entry["Detail"] = json.dumps(entry["Detail"])
            entries.append(entry)
        try:
            client = self._client_for(request) if self._client_for is not None else self._client
            response = _jsonable(client.put_events(Entries=entries))
        except ClientError as exc:
            raise _client_error("EventBridge", exc) from None
        if response.get("FailedEntryCount"):
            raise StatesError("EventBridge.FailedEntry", json.dumps(response))
        return response


class StatesIntegration:
    """`states:startExecution` (fire and forget, `.sync` and `.sync:2`) on the local engine."""

    def __init__(self, starter: ExecutionStarter, authorize: TaskAuthorizer | None = None) -> None:
        self._starter = starter
        self._authorize = authorize

    def call(self, request: TaskRequest) -> Any:
        if request.action != "startExecution":
            raise StatesError("States.Runtime", f"Unsupported Step Functions action {request.action!r}")
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        wait = request.pattern.startswith("sync")
        machine_arn = parameters.get("StateMachineArn")
        if self._authorize is not None and isinstance(machine_arn, str):
            self._authorize(request, machine_arn)
        description = _jsonable(self._starter.start_for_task(parameters, wait, request.execution_arn))
        if not wait:
            return {"ExecutionArn": description["executionArn"], "StartDate": description["startDate"]}
        result = {key[0].upper() + key[1:]: value for key, value in description.items()}
        if request.pattern == "sync:2" and isinstance(result.get("Output"), str):
            result["Output"] = json.loads(result["Output"])
        if description.get("status") != "SUCCEEDED":
            raise StatesError(
                "States.TaskFailed" if description.get("status") != "TIMED_OUT" else "States.Timeout",
                json.dumps(result),
            )
        return result


@lru_cache(maxsize=1)
def _sdk_service_names() -> dict[str, tuple[str, str]]:
    """SDK integration service name (serviceId, lowercase, no spaces) -> (boto3 name, error prefix)."""
    session = botocore.session.get_session()
    names: dict[str, tuple[str, str]] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        service_id = model.metadata.get("serviceId", service).replace(" ", "")
        names[service_id.lower()] = (service, service_id)
        names.setdefault(service.replace("-", "").lower(), (service, service_id))
    return names


_COMMON_SDK_SERVICES = {
    "redshiftdata": ("redshift-data", "RedshiftData"),
    "s3": ("s3", "S3"),
    "sfn": ("stepfunctions", "Sfn"),
    "eventbridge": ("events", "EventBridge"),
    "lambda": ("lambda", "Lambda"),
}


def sdk_service(name: str) -> tuple[str, str]:
    """boto3 client name and error prefix for an `aws-sdk:<name>` integration."""
    key = name.lower()
    if key in _COMMON_SDK_SERVICES:
        return _COMMON_SDK_SERVICES[key]
    session = botocore.session.get_session()
    if key in session.get_available_services():
        return key, str(session.get_service_model(key).metadata.get("serviceId", key)).replace(" ", "")
    found = _sdk_service_names().get(key)
    if found is None:
        raise StatesError("States.Runtime", f"Unknown AWS SDK service {name!r} in aws-sdk integration")
    return found


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _api_members(shape: Any, value: Any, where: str) -> Any:
    """Task parameters, PascalCase even where the API is camelCase ("API naming conventions",
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html), as the API's
    member names; a field that is not a member's PascalCase name is refused."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {_pascal(name): name for name in shape.members}
        named: dict[str, Any] = {}
        for key, item in value.items():
            if key not in members:
                expected = ", ".join(sorted(members))
                raise ParamValidationError(
                    report=f"Unknown parameter {key!r} of {where}: expected one of {expected}"
                )
            named[members[key]] = _api_members(shape.members[members[key]], item, where)
        return named
    if shape.type_name == "list" and isinstance(value, list):
        return [_api_members(shape.member, item, where) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _api_members(shape.value, item, where) for key, item in value.items()}
    return value


def _pascal_members(shape: Any, value: Any) -> Any:
    """An SDK response with its structure members in PascalCase, as Step Functions returns it."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {_pascal(key): _pascal_members(shape.members.get(key), item) for key, item in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_pascal_members(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _pascal_members(shape.value, item) for key, item in value.items()}
    return value


def _client_error(prefix: str, exc: ClientError) -> StatesError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    name = code if code.endswith("Exception") else f"{code}Exception"
    meta = exc.response.get("ResponseMetadata", {})
    cause = (
        f"{error.get('Message', '')} (Service: {prefix}, Status Code: {meta.get('HTTPStatusCode', 400)}, "
        f"Request ID: {meta.get('RequestId', '')})"
    )
    return StatesError(f"{prefix}.{name}", cause)


class AwsSdkIntegration:
    """`aws-sdk:<service>:<action>`: the call made with boto3 against the local endpoint."""

    def __init__(
        self,
        endpoint_url: str | None,
        region: str = "us-east-1",
        access_key: str = LOCAL_KEYS[0],
        secret_key: str = LOCAL_KEYS[1],
        credentials: TaskCredentials | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._credentials = credentials
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, request: TaskRequest | None = None) -> Any:
        """A boto3 client of `service`, signed as the task's role when credentials are given."""
        key, secret = self._access_key, self._secret_key
        if self._credentials is not None and request is not None:
            key, secret = self._credentials(request)
        with self._lock:
            if (service, key) not in self._clients:
                self._clients[service, key] = local_client(
                    service, self._endpoint_url, self._region, key, secret
                )
            return self._clients[service, key]

    def call(self, request: TaskRequest) -> Any:
        sdk_name = request.service.split(":", 1)[1]
        service, prefix = sdk_service(sdk_name)
        client = self.client(service, request)
        operation = request.action[0].upper() + request.action[1:]
        if operation not in client.meta.service_model.operation_names:
            raise StatesError("States.Runtime", f"{sdk_name} has no action {request.action!r}")
        method = getattr(client, botocore.xform_name(operation))
        model = client.meta.service_model.operation_model(operation)
        parameters = request.parameters if isinstance(request.parameters, dict) else {}
        try:
            arguments = _api_members(model.input_shape, parameters, f"{sdk_name}:{request.action}")
            return _pascal_members(model.output_shape, _jsonable(method(**arguments)))
        except ClientError as exc:
            raise _client_error(prefix, exc) from None
        except ParamValidationError as exc:
            raise StatesError(f"{prefix}.ValidationException", str(exc)) from None
