"""Local AWS Lambda runtime: one warm worker process per function (more when invoked concurrently)."""

from __future__ import annotations

from rsetl.lambdas.config import FunctionConfig
from rsetl.lambdas.exceptions import (
    FunctionNotFound,
    InvalidFunctionConfig,
    LambdaRuntimeError,
    LambdaServiceError,
)
from rsetl.lambdas.faults import LambdaFault, LambdaFaults
from rsetl.lambdas.runtime import InvokeResult, LambdaRuntime, build_opt_dir

__all__ = [
    "FunctionConfig",
    "FunctionNotFound",
    "InvalidFunctionConfig",
    "InvokeResult",
    "LambdaFault",
    "LambdaFaults",
    "LambdaRuntime",
    "LambdaRuntimeError",
    "LambdaServiceError",
    "build_opt_dir",
]
