"""The predefined States Language error names and how Retry/Catch match them."""

from __future__ import annotations

from collections.abc import Iterable

ALL = "States.ALL"
BRANCH_FAILED = "States.BranchFailed"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
ITEM_READER_FAILED = "States.ItemReaderFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
PERMISSIONS = "States.Permissions"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
RUNTIME = "States.Runtime"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"

# "States.ALL ... can't catch the States.DataLimitExceeded terminal error or Runtime error types"
# (Step Functions developer guide, "Error names").
_NOT_MATCHED_BY_WILDCARDS = frozenset({DATA_LIMIT_EXCEEDED, RUNTIME})


def error_matches(error: str, error_equals: Iterable[str], *, heartbeat: bool = False) -> bool:
    """True when a Retrier's or Catcher's ErrorEquals list matches `error`.

    States.TaskFailed matches any error except States.Timeout; neither wildcard matches
    the terminal errors; States.Runtime is never caught or retried. A missed heartbeat is
    States.Timeout that States.HeartbeatTimeout also matches ("only available inside the
    Catch and Retry fields", "Handling errors").
    """
    if error == RUNTIME:
        return False
    for name in error_equals:
        if name == error or (heartbeat and name == HEARTBEAT_TIMEOUT):
            return True
        if error in _NOT_MATCHED_BY_WILDCARDS:
            continue
        if name == ALL or (name == TASK_FAILED and error != TIMEOUT):
            return True
    return False
