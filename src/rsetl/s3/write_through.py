"""Which of moto's S3 backend calls change what, and the wrappers that report each change.

Each mutating call marks the bucket, key or multipart upload it changed to a :class:`Recorder`
(:class:`rsetl.s3.persistence.S3Persistence`), inside the recorder's `recording`; a bucket setting
call also hands over the setting's new value, kept as the call's argument and given back to the same
call at start-up (:func:`restore_setting`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from inspect import signature
from typing import Any, Protocol

__all__ = ["Mark", "Recorder", "restore_setting", "wrap_backend"]


@dataclass(frozen=True)
class Mark:
    """What a call changed: a bucket, one of its keys, or one of its multipart uploads."""

    bucket: str
    key: str | None = None
    """None marks the bucket itself (created, deleted, reconfigured), or an upload."""
    upload: str | None = None
    """A multipart upload in progress (created, a part added, aborted, completed)."""


class Recorder(Protocol):
    """Where the wrappers report the changes of moto's calls."""

    def recording(self) -> AbstractContextManager[None]:
        """Changes marked inside are written when the outermost `recording` ends."""

    def mark(self, mark: Mark) -> None:
        """`mark` changed."""

    def keep_setting(self, bucket: str, setting: str, value: Any) -> None:
        """`bucket`'s `setting` is now `value`."""

    def drop_setting(self, bucket: str, setting: str) -> None:
        """`bucket`'s `setting` was deleted."""


_BUCKET_SETTINGS: dict[str, tuple[str, str | None]] = {
    "put_bucket_notification_configuration": ("notification_configuration", "notification_config"),
    "put_bucket_policy": ("policy", "policy"),
    "delete_bucket_policy": ("policy", None),
    "put_bucket_lifecycle": ("lifecycle", "rules"),
    "delete_bucket_lifecycle": ("lifecycle", None),
    "put_bucket_cors": ("cors", "cors_rules"),
    "delete_bucket_cors": ("cors", None),
    "put_bucket_tagging": ("tagging", "tags"),
    "delete_bucket_tagging": ("tagging", None),
    "put_bucket_encryption": ("encryption", "encryption"),
    "delete_bucket_encryption": ("encryption", None),
}
"""moto's bucket setting calls: the setting each one changes and the argument that holds its new
value (None: the call deletes it)."""
_RESTORE_SETTING = {
    setting: method for method, (setting, argument) in _BUCKET_SETTINGS.items() if argument is not None
}
_TEXT_SETTINGS = frozenset({"policy"})
"""Settings moto holds as bytes (a policy document), kept as UTF-8 text."""
_MARKS: dict[str, Callable[[dict[str, Any]], Mark]] = {
    "create_bucket": lambda a: Mark(a["bucket_name"]),
    "delete_bucket": lambda a: Mark(a["bucket_name"]),
    "put_bucket_versioning": lambda a: Mark(a["bucket_name"]),
    "put_object": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "delete_object": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "put_object_acl": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "put_object_legal_hold": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "put_object_retention": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "delete_object_tagging": lambda a: Mark(a["bucket_name"], a["key_name"]),
    "put_object_tagging": lambda a: Mark(a["key"].bucket_name, a["key"].name),
    "upload_part": lambda a: Mark(a["bucket_name"], upload=a["multipart_id"]),
    "upload_part_copy": lambda a: Mark(a["dest_bucket_name"], upload=a["multipart_id"]),
    "abort_multipart_upload": lambda a: Mark(a["bucket_name"], upload=a["multipart_id"]),
    "complete_multipart_upload": lambda a: Mark(a["bucket_name"], upload=a["multipart_id"]),
}
"""moto's other mutating calls, and what each changed, from its bound arguments."""


def wrap_backend(backend: Any, recorder: Recorder) -> None:
    """Wrap `backend`'s mutating calls so that each reports its change to `recorder`."""
    # moto's backends are shared by the process: one another runtime attached keeps its write-through
    # wrappers as instance attributes; dropping them wraps moto's own methods, not those wrappers.
    for name in (*_MARKS, *_BUCKET_SETTINGS, "create_multipart_upload"):
        vars(backend).pop(name, None)
    # CreateMultipartUpload's id exists only once moto has made it: the mark comes from the result.
    create = backend.create_multipart_upload

    def create_multipart_upload(*args: Any, **kwargs: Any) -> Any:
        with recorder.recording():
            multipart = create(*args, **kwargs)
            bucket = kwargs.get("bucket_name", args[0] if args else None)
            recorder.mark(Mark(str(bucket), upload=multipart.id))
        return multipart

    backend.create_multipart_upload = create_multipart_upload
    for name, mark in _MARKS.items():
        setattr(backend, name, _wrap(getattr(backend, name), mark, recorder))
    for name, (setting, argument) in _BUCKET_SETTINGS.items():
        setattr(backend, name, _wrap_setting(getattr(backend, name), setting, argument, recorder))


def restore_setting(backend: Any, bucket: str, setting: str, value: Any) -> None:
    """Give a kept setting back to the moto call that set it."""
    given = value.encode() if setting in _TEXT_SETTINGS else copy.deepcopy(value)
    getattr(backend, _RESTORE_SETTING[setting])(bucket, given)


def _wrap_setting(
    method: Callable[..., Any], setting: str, argument: str | None, recorder: Recorder
) -> Callable[..., Any]:
    """A bucket setting is kept once moto has taken it (a call it refuses changes nothing)."""
    parameters = signature(method)

    def write_through(*args: Any, **kwargs: Any) -> Any:
        bound = parameters.bind(*args, **kwargs)
        bucket = str(bound.arguments["bucket_name"])
        with recorder.recording():
            result = method(*args, **kwargs)
            if argument is None:
                recorder.drop_setting(bucket, setting)
            else:
                value = bound.arguments[argument]
                kept = value.decode() if setting in _TEXT_SETTINGS else copy.deepcopy(value)
                recorder.keep_setting(bucket, setting, kept)
            recorder.mark(Mark(bucket))
        return result

    return write_through


def _wrap(
    method: Callable[..., Any], mark: Callable[[dict[str, Any]], Mark], recorder: Recorder
) -> Callable[..., Any]:
    parameters = signature(method)

    def write_through(*args: Any, **kwargs: Any) -> Any:
        bound = parameters.bind(*args, **kwargs)
        with recorder.recording():
            try:
                return method(*args, **kwargs)
            finally:
                # A call that fails part-way may have changed the key all the same.
                recorder.mark(mark(bound.arguments))

    return write_through
