"""Where the Lambdas find the local services: `AWS_ENDPOINT_URL_<SERVICE>` for every emulated one."""

from __future__ import annotations

from rsetl.awsproto.models import service_model
from rsetl.awsproto.router import Router

EMULATED_SERVICES = ("redshift-data", "events", "stepfunctions", "s3", "sqs", "cloudformation")
"""botocore names of the AWS services the local endpoint answers: the Lambdas' environment is built
before the services are, and :func:`check_served` holds the router to this list once they are."""


def endpoint_variable(service_name: str) -> str:
    """The environment variable boto3 reads for one service's endpoint, from botocore's service id."""
    service_id = service_model(service_name).service_id
    return "AWS_ENDPOINT_URL_" + str(service_id).upper().replace(" ", "_").replace("-", "_")


def local_aws_environment(endpoint_url: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    """What a Lambda's environment gets locally on top of the template's variables."""
    environment = {endpoint_variable(name): endpoint_url for name in EMULATED_SERVICES}
    environment.update(
        AWS_ACCESS_KEY_ID=access_key,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
    )
    return environment


def check_served(router: Router) -> None:
    """Raise unless `router` serves exactly the AWS services of :data:`EMULATED_SERVICES`, so that every
    endpoint variable names a served service and every served service has its variable."""
    named, served = frozenset(EMULATED_SERVICES), router.aws_services
    if named != served:
        raise RuntimeError(
            f"EMULATED_SERVICES is not what the local endpoint serves: not served "
            f"{sorted(named - served)}, served without an endpoint variable {sorted(served - named)}"
        )
