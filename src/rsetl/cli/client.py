"""Clients of a running `rsetl local up`, found through its state directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from rsetl.awsproto.clients import local_client
from rsetl.runtime.admin import SIGNING_NAME, TARGET_PREFIX
from rsetl.runtime.state import EndpointInfo, read_endpoint


class EndpointError(Exception):
    """The local endpoint could not be reached or answered the runtime's own API with an error."""


class LocalClients:
    """boto3 clients (and the local admin call) pointed at one running local endpoint."""

    def __init__(self, info: EndpointInfo) -> None:
        self.info = info

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> LocalClients:
        return cls(read_endpoint(state_dir))

    def client(self, service: str) -> Any:
        info = self.info
        return local_client(
            service, info.url, info.region, info.access_key, info.secret_key,
            Config(retries={"mode": "standard"}),
        )  # fmt: skip

    def admin(self, operation: str, params: dict[str, Any] | None = None) -> Any:
        """Call the runtime's own signed `RsetlLocal.<operation>` API."""
        body = json.dumps(params or {}).encode()
        request = AWSRequest(
            "POST",
            self.info.url + "/",
            data=body,
            headers={"X-Amz-Target": f"{TARGET_PREFIX}.{operation}", "Content-Type": "application/json"},
        )
        credentials = Credentials(self.info.access_key, self.info.secret_key)
        SigV4Auth(credentials, SIGNING_NAME, self.info.region).add_auth(request)
        try:
            response = urllib3.request(
                "POST", self.info.url + "/", body=body, headers=dict(request.headers.items()), retries=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise EndpointError(f"cannot reach {self.info.url}: {error}") from None
        try:
            payload = json.loads(response.data)
        except ValueError:
            raise EndpointError(f"{operation}: HTTP {response.status} with a body that is not JSON") from None
        if response.status != 200:
            raise EndpointError(f"{payload.get('__type')}: {payload.get('message')}")
        return payload

    def pipeline_machine_arn(self) -> str:
        """The ARN of the RunPipeline state machine (the template's only one, or the one so named)."""
        machines = self.info.state_machines
        for name in ("RunPipeline", "RunPipelineStateMachine"):
            if name in machines:
                return machines[name]
        if len(machines) == 1:
            return next(iter(machines.values()))
        raise EndpointError(f"cannot tell which state machine runs pipelines among {sorted(machines)}")
