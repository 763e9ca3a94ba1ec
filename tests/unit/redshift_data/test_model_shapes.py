"""The Data API's error classes and ColumnMetadata come from botocore's redshift-data model."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from botocore.model import StructureShape

from rsetl.awsproto.models import service_model
from rsetl.redshift_data import exceptions
from rsetl.redshift_data.catalog import _column as catalog_column
from rsetl.redshift_data.results import column_metadata
from rsetl.redshift_sql import ColumnInfo

MODEL = service_model("redshift-data")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_error_class_is_named_by_an_error_code_of_the_model() -> None:
    """Errors the service raises carry their AWS error code as class name and wire code (Data API
    Reference, "Common Errors", https://docs.aws.amazon.com/redshift/latest/APIReference/CommonErrors.html)."""
    codes = {shape.name for shape in MODEL.error_shapes} | {"ThrottlingException"}
    classes = exceptions.RedshiftDataError.__subclasses__()
    assert classes, "the service defines its errors"
    for cls in classes:
        assert cls.__name__ in codes
        assert cls.code == cls.__name__


def test_every_error_answers_the_members_its_model_shape_requires() -> None:
    """An error shape's required members beside `Message` (ResourceNotFoundException's `ResourceId`)
    are in the error answered, so an SDK that reads them finds them."""
    shapes = {shape.name: shape for shape in MODEL.error_shapes}
    for cls in exceptions.RedshiftDataError.__subclasses__():
        shape = shapes.get(cls.__name__)
        required = set(shape.required_members) - {"Message"} if shape is not None else set()
        parameters = inspect.signature(cls).parameters.values()
        arguments: list[Any] = [
            "x" for parameter in parameters if parameter.default is inspect.Parameter.empty
        ]
        assert set(cls(*arguments).details) == required, cls.__name__


def test_column_info_has_a_field_for_each_column_metadata_member() -> None:
    """ColumnMetadata (https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ColumnMetadata.html)."""
    shape = MODEL.shape_for("ColumnMetadata")
    assert isinstance(shape, StructureShape)
    assert {_snake(member) for member in shape.members} == {f.name for f in dataclasses.fields(ColumnInfo)}


def test_results_and_describe_table_answer_every_column_metadata_member() -> None:
    shape = MODEL.shape_for("ColumnMetadata")
    assert isinstance(shape, StructureShape)
    result = column_metadata(ColumnInfo("a", "a", "int4"))
    described = catalog_column("s", "t", "a", "numeric", (10 << 16) + 2 + 4, True, "0")
    assert set(result) == set(described) == set(shape.members)
    assert (described["precision"], described["scale"], described["columnDefault"]) == (10, 2, "0")
