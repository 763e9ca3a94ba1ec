"""botocore's service models, each loaded once per process (a load parses a large JSON file)."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import ServiceModel


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(service_name: str) -> ServiceModel:
    """botocore's model of `service_name` (e.g. "stepfunctions")."""
    return _session().get_service_model(service_name)


@cache
def modelled_services() -> frozenset[str]:
    """The names of every service botocore has a model of."""
    return frozenset(_session().get_available_services())
