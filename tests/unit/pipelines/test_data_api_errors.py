"""The layer's Data API errors are named by the codes of botocore's redshift-data model."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError
from etl_common import TRANSIENT_ERRORS, DataApiError
from etl_common.errors import data_api_error, data_api_error_codes

MODEL = botocore.session.get_session().get_service_model("redshift-data")


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "ExecuteStatement")


@pytest.mark.parametrize("code", sorted(shape.name for shape in MODEL.error_shapes))
def test_each_error_of_the_model_raises_under_its_own_name(code: str) -> None:
    """Step Functions names a Lambda function's error by its exception's class ("Handling errors in
    Step Functions workflows", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
    error = data_api_error("ExecuteStatement", _client_error(code))
    assert type(error).__name__ == code
    assert isinstance(error, DataApiError)
    assert type(data_api_error("DescribeStatement", _client_error(code))) is type(error)


def test_the_retried_errors_are_data_api_error_codes() -> None:
    assert set(TRANSIENT_ERRORS) <= data_api_error_codes()


def test_an_undocumented_code_is_a_plain_data_api_error() -> None:
    error = data_api_error("ExecuteStatement", _client_error("SomethingNew"))
    assert type(error) is DataApiError
    assert error.code == "SomethingNew"
