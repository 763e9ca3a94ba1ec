"""Local AWS Lambda runtime: one warm worker process per function (more when invoked concurrently)."""

from __future__ import annotations

from rsetl.lambdas.config import FunctionConfig, LayerConfig
from rsetl.lambdas.exceptions import (
    FunctionNotFound,
    InvalidFunctionConfig,
    LambdaRuntimeError,
    LambdaServiceError,
    PackageInstallError,
)
from rsetl.lambdas.faults import LambdaFault, LambdaFaults
from rsetl.lambdas.layers import build_opt_dir
from rsetl.lambdas.packages import CACHE_DIR_VARIABLE, PackageCache
from rsetl.lambdas.runtime import InvokeResult, LambdaRuntime

__all__ = [
    "CACHE_DIR_VARIABLE",
    "FunctionConfig",
    "FunctionNotFound",
    "InvalidFunctionConfig",
    "InvokeResult",
    "LambdaFault",
    "LambdaFaults",
    "LambdaRuntime",
    "LambdaRuntimeError",
    "LambdaServiceError",
    "LayerConfig",
    "PackageCache",
    "PackageInstallError",
    "build_opt_dir",
]
