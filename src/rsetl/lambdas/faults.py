"""Fault injection for the local Lambda runtime: the next invocations of a function misbehave."""

from __future__ import annotations

from enum import StrEnum

from rsetl.faults import FaultQueue


class LambdaFault(StrEnum):
    """How one invocation misbehaves.

    `EXCEPTION`: the handler raises before doing anything (an Unhandled function error).
    `TIMEOUT`: the handler runs to the end but its result is lost (`Sandbox.Timedout`), the worst
    case of a timeout: the side effects happened and the caller never hears of them.
    `SERVICE_ERROR`: the Invoke call itself fails (`Lambda.ServiceException`); the handler does not run.
    """

    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    SERVICE_ERROR = "service_error"


class LambdaFaults(FaultQueue[LambdaFault]):
    """Faults queued per function name, each consumed by one invocation."""

    def fail_next(self, function_name: str, fault: LambdaFault | str, count: int = 1) -> None:
        """Make the next `count` invocations of `function_name` misbehave as `fault`."""
        self.add(function_name, LambdaFault(fault), count)
