"""Batch loads: a step's ``for_each_file`` statements, repeated for each file of the run's ``files``.

File ``n`` (from 1) of a batch gives its statements ``object_key_n`` and ``etag_n`` where a one-file
ingest reads ``object_key`` and ``etag``, so every value still reaches Redshift as a Data API
parameter. A step runs as one BatchExecuteStatement, which takes at most 40 SQL statements
(Redshift Data API Reference, BatchExecuteStatement, ``Sqls``: "Array Members: Minimum number of 1
item. Maximum number of 40 items."): that bounds the files of one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FOR_EACH_FILE = "for_each_file"
FILE_PARAMETERS = ("object_key", "etag", "reason")
"""What one file of a batch gives its statements (``reason``: why its version was superseded)."""
MAX_BATCH_SQLS = 40


def file_parameter(name: str, index: int) -> str:
    """The name file ``index`` (from 1) gives parameter ``name`` of a ``for_each_file`` statement."""
    return f"{name}_{index}" if name in FILE_PARAMETERS else name


def for_file(statement: Mapping[str, Any], index: int) -> dict[str, Any]:
    """``statement`` of a ``for_each_file`` list as file ``index`` runs it (its file parameters renamed)."""
    if "call" in statement:
        call = statement["call"]
        args = [file_parameter(name, index) for name in call.get("args", [])]
        return {"call": {**call, "args": args}}
    if "copy" in statement:
        copy = statement["copy"]
        return {"copy": {**copy, "key": file_parameter(copy.get("key", "object_key"), index)}}
    return dict(statement)


def file_values(files: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The per-file parameter values of a batch's ``files``."""
    values: dict[str, str] = {}
    for index, file in enumerate(files, start=1):
        values[file_parameter("object_key", index)] = str(file["object_key"])
        values[file_parameter("etag", index)] = str(file["etag"])
        reason = (file.get("source") or {}).get("reason")
        if reason is not None:
            values[file_parameter("reason", index)] = str(reason)
    return values


def loads_batches(spec: Mapping[str, Any]) -> bool:
    """Whether a step of ``spec`` has ``for_each_file`` statements (its runs take ``files``)."""
    return any(FOR_EACH_FILE in statement for step in _all_steps(spec) for statement in step["statements"])


def max_files(spec: Mapping[str, Any]) -> int:
    """The most files one run of ``spec`` takes: every step's statements fit one BatchExecuteStatement."""
    most = MAX_BATCH_SQLS
    for step in _all_steps(spec):
        per_file = sum(len(s[FOR_EACH_FILE]) for s in step["statements"] if FOR_EACH_FILE in s)
        if per_file:
            fixed = sum(1 for s in step["statements"] if FOR_EACH_FILE not in s)
            most = min(most, (MAX_BATCH_SQLS - fixed) // per_file)
    return most


def _all_steps(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [step for entry in spec["steps"] for step in entry.get("parallel", [entry])]
