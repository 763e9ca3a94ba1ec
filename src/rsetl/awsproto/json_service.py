"""Base class of the local services that speak AWS's JSON 1.0 / 1.1 protocols."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable
from functools import cached_property
from typing import Any, ClassVar

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from rsetl.awsproto.errors import AwsError, wire_error
from rsetl.awsproto.messages import AwsRequest, AwsResponse, RequestContext
from rsetl.awsproto.models import service_model
from rsetl.awsproto.shapes import serialize_output, validate_input
from rsetl.errors import ServiceError

logger = logging.getLogger(__name__)

MAX_JSON_BODY = 6 * 1024 * 1024
"""Largest JSON request accepted before parsing (AWS's JSON APIs take far less)."""


def _json_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _service_model(service_name: str) -> ServiceModel:
    return service_model(service_name)


class JsonService:
    """Dispatches `X-Amz-Target: <prefix>.<Operation>` to the method named like boto3's for it.

    Subclasses set `service_name` (botocore's name) and define one method per operation,
    `def execute_statement(self, params, context) -> dict`. Input is validated against the
    botocore model first; output is serialized as the model says.
    """

    service_name: ClassVar[str]
    max_request_body: ClassVar[int] = MAX_JSON_BODY

    @cached_property
    def model(self) -> ServiceModel:
        return _service_model(self.service_name)

    @property
    def signing_name(self) -> str:
        return str(self.model.signing_name)

    @property
    def target_prefix(self) -> str:
        return str(self.model.metadata["targetPrefix"])

    @property
    def content_type(self) -> str:
        return f"application/x-amz-json-{self.model.metadata.get('jsonVersion', '1.0')}"

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        """Answer one request: validate, dispatch, serialize."""
        try:
            operation, method = self._resolve(request.header("X-Amz-Target"))
            params = self._parse_body(request.body)
            try:
                validate_input(operation.input_shape, params)
            except RecursionError:
                raise _too_deep() from None
            self.authorize_operation(operation.name, params, context)
            result = method(params, context) or {}
            body = json.dumps(serialize_output(operation.output_shape, result), default=_json_default)
        except ServiceError as error:
            return self.error_response(wire_error(error), context)
        return self._response(200, body.encode(), context)

    def authorize_operation(self, operation: str, params: dict[str, Any], context: RequestContext) -> None:
        """IAM's check of `<service>:<Operation>` on the resources :meth:`operation_resources` names."""
        for resource in self.operation_resources(operation, params, context):
            context.authorize(f"{self.signing_name}:{operation}", resource)

    def operation_resources(
        self, operation: str, params: dict[str, Any], context: RequestContext
    ) -> list[str]:
        """The resource ARNs one call acts on (`*` when the action takes none); [] when the
        operation checks its caller itself, once it knows what it acts on."""
        return ["*"]

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        """AWS's JSON error shape: `__type`, `message` and the shape's other members."""
        body = json.dumps({"__type": error.code, "message": error.message, **error.details}).encode()
        response = self._response(error.status, body, context)
        response.headers["x-amzn-ErrorType"] = error.code
        return response

    def _response(self, status: int, body: bytes, context: RequestContext) -> AwsResponse:
        return AwsResponse(
            status=status,
            body=body,
            headers={
                "Content-Type": self.content_type,
                "x-amzn-RequestId": context.request_id,
                "x-amz-crc32": str(zlib.crc32(body) & 0xFFFFFFFF),
            },
        )

    def _resolve(self, target: str) -> tuple[OperationModel, Callable[..., dict[str, Any] | None]]:
        prefix, _, name = target.rpartition(".")
        if prefix != self.target_prefix or name not in self.model.operation_names:
            raise AwsError("UnknownOperationException", f"Unknown operation {target or '(none)'}")
        method = getattr(self, xform_name(name), None)
        if method is None:
            raise AwsError("UnknownOperationException", f"Operation {name} is not supported locally")
        return self.model.operation_model(name), method

    @staticmethod
    def _parse_body(body: bytes) -> Any:
        if len(body) > MAX_JSON_BODY:
            raise AwsError("SerializationException", f"Request body exceeds {MAX_JSON_BODY} bytes.", 413)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise AwsError("SerializationException", f"Request body is not valid JSON: {error}") from None
        except RecursionError:
            raise _too_deep() from None


def _too_deep() -> AwsError:
    return AwsError("SerializationException", "Request body is not valid JSON: it is nested too deeply.")
