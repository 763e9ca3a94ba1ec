"""CloudFormation's query protocol (form-encoded POST, XML answers), for `DescribeStacks` only.

Scripts written for a deployed stack read its outputs and parameters with DescribeStacks
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html); the local
runtime answers it for the stack it wired, so they run unchanged against the local endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from rsetl.awsproto import AwsError, AwsRequest, AwsResponse, RequestContext
from rsetl.template import LocalTemplate

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


class CloudFormationService:
    """DescribeStacks of the local stack: status CREATE_COMPLETE, its parameters and outputs."""

    signing_name = "cloudformation"

    def __init__(self, template: LocalTemplate, created: datetime) -> None:
        self._template = template
        self._created = created

    @property
    def stack_id(self) -> str:
        # The same id as the template's AWS::StackId resolves to.
        template = self._template
        where = f"{template.region}:{template.account_id}"
        return f"arn:aws:cloudformation:{where}:stack/{template.stack_name}/local"

    def handle(self, request: AwsRequest, context: RequestContext) -> AwsResponse:
        form = {
            key: values[-1] for key, values in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        action = form.get("Action", "")
        if action != "DescribeStacks":
            raise AwsError(
                "InvalidAction", f"The action {action or '(none)'} is not valid for this endpoint.", 400
            )
        name = form.get("StackName")
        if name not in (None, self._template.stack_name, self.stack_id):
            raise AwsError("ValidationError", f"Stack with id {name} does not exist", 400)
        return self._xml("DescribeStacks", f"<Stacks><member>{self._stack()}</member></Stacks>", context)

    def error_response(self, error: AwsError, context: RequestContext) -> AwsResponse:
        body = (
            f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>'
            f"<Message>{escape(error.message)}</Message></Error><RequestId>{context.request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        return AwsResponse(
            error.status, body, {"Content-Type": "text/xml", "x-amzn-RequestId": context.request_id}
        )

    def _stack(self) -> str:
        template = self._template
        parameters = "".join(
            f"<member>{_element('ParameterKey', key)}{_element('ParameterValue', value)}</member>"
            for key, value in template.parameters.items()
        )
        outputs = "".join(
            f"<member>{_element('OutputKey', key)}{_element('OutputValue', _text(value))}</member>"
            for key, value in template.outputs.items()
        )
        return (
            f"{_element('StackName', template.stack_name)}{_element('StackId', self.stack_id)}"
            f"{_element('CreationTime', self._created.strftime('%Y-%m-%dT%H:%M:%S.000Z'))}"
            f"{_element('StackStatus', 'CREATE_COMPLETE')}"
            f"<Parameters>{parameters}</Parameters><Outputs>{outputs}</Outputs>"
        )

    @staticmethod
    def _xml(action: str, result: str, context: RequestContext) -> AwsResponse:
        body = (
            f'<{action}Response xmlns="{_NAMESPACE}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{context.request_id}</RequestId></ResponseMetadata></{action}Response>"
        ).encode()
        return AwsResponse(200, body, {"Content-Type": "text/xml", "x-amzn-RequestId": context.request_id})


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def _text(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
