"""Every domain error is named by an AWS error code of its service, and only the router knows the wire."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import botocore.loaders
import pytest

import rsetl
from rsetl.awsproto import AwsError
from rsetl.awsproto.errors import wire_error
from rsetl.errors import ServiceError
from rsetl.eventbridge.exceptions import EventBridgeError, ResourceNotFoundException
from rsetl.objectstore import NoSuchKey, ObjectStoreError
from rsetl.redshift_data.exceptions import InternalServerException, RedshiftDataError
from rsetl.stepfunctions.exceptions import StateMachineDoesNotExist, StatesApiError

SRC = Path(rsetl.__file__).parent

SERVICE_BASES: dict[type[ServiceError], str] = {
    EventBridgeError: "events",
    ObjectStoreError: "s3",
    RedshiftDataError: "redshift-data",
    StatesApiError: "stepfunctions",
}
"""Each service's domain base -> the botocore model whose error shapes name its subclasses."""

COMMON_ERRORS = {
    "AccessDeniedException",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "MissingAction",
    "MissingParameter",
    "NotAuthorized",
    "RequestExpired",
    "ServiceUnavailable",
    "ThrottlingException",
    "ValidationError",
}
"""The errors common to every AWS API, which the models do not list ("Common Errors", Amazon Redshift
API Reference, https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html)."""

UNMODELLED = {"events": {"ValidationException"}}
"""Codes a service answers with that its model has no shape for: EventBridge rejects a bad parameter
with `ValidationException` ("Parameter(s) EventPattern or ScheduleExpression must be specified.
(Service: AmazonCloudWatchEvents; Status Code: 400; Error Code: ValidationException)",
https://github.com/awsdocs/aws-cloudformation-user-guide/pull/456)."""


def _import_all() -> None:
    for module in pkgutil.walk_packages([str(SRC)], "rsetl."):
        importlib.import_module(module.name)


def _descendants(base: type[ServiceError]) -> list[type[ServiceError]]:
    found: list[type[ServiceError]] = []
    for cls in base.__subclasses__():
        found += [cls, *_descendants(cls)]
    return found


def _model_errors(service: str) -> set[str]:
    model = botocore.loaders.create_loader().load_service_model(service, "service-2")
    return {name for name, shape in model["shapes"].items() if shape.get("exception")}


@pytest.mark.parametrize(("base", "service"), SERVICE_BASES.items(), ids=SERVICE_BASES.values())
def test_each_error_class_is_an_error_code_of_its_services_model(
    base: type[ServiceError], service: str
) -> None:
    _import_all()
    errors = _descendants(base)
    known = _model_errors(service) | COMMON_ERRORS | UNMODELLED.get(service, set())

    assert errors, f"{base.__name__} has no errors"
    assert sorted(cls.__name__ for cls in errors if cls.__name__ not in known) == []
    assert [cls.__name__ for cls in errors if cls.code != cls.__name__] == []


def test_every_domain_error_belongs_to_one_service() -> None:
    """A new ServiceError outside the wire layer must sit under a base the test above checks."""
    _import_all()
    orphans = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _descendants(ServiceError)
        if cls.__module__.startswith("rsetl.")
        and cls not in SERVICE_BASES
        and not issubclass(cls, AwsError)
        and not any(issubclass(cls, base) for base in SERVICE_BASES)
    ]
    assert orphans == []


@pytest.mark.parametrize(
    "module",
    [
        "errors.py",
        "objectstore.py",
        "eventbridge/exceptions.py",
        "redshift_data/exceptions.py",
        "stepfunctions/exceptions.py",
        *sorted(str(path.relative_to(SRC)) for path in (SRC / "redshift_sql").glob("*.py")),
    ],
)
def test_domain_errors_and_the_sql_layer_do_not_import_the_wire_layer(module: str) -> None:
    tree = ast.parse((SRC / module).read_text())
    imported = [
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    ] + [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert [name for name in imported if name.startswith("rsetl.awsproto")] == []


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (StateMachineDoesNotExist("State Machine Does Not Exist: 'arn'"), "StateMachineDoesNotExist", 400),
        (ResourceNotFoundException("Rule r does not exist."), "ResourceNotFoundException", 400),
        (InternalServerException("failed"), "InternalServerException", 500),
        (NoSuchKey("b", "k"), "NoSuchKey", 404),
    ],
)
def test_a_domain_error_answers_with_its_class_name_and_message(
    error: ServiceError, code: str, status: int
) -> None:
    wire = wire_error(error)

    assert (wire.code, wire.message, wire.status) == (code, error.message, status)
    assert str(error) == f"{code}: {error.message}"
