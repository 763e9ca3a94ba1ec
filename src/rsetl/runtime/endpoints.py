"""Where the Lambdas find the local services: `AWS_ENDPOINT_URL_<SERVICE>` for every emulated one."""

from __future__ import annotations

from rsetl.awsproto.models import service_model

EMULATED_SERVICES = ("redshift-data", "events", "stepfunctions", "s3", "sqs")
"""botocore names of the services the local endpoint answers."""


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
