"""What a request made moto write, noted per request thread, and the notifications it owes for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rsetl.awsproto import RequestContext
from rsetl.s3.notifications import DELETE_MARKER_CREATED, PERMANENTLY_DELETED, ObjectNotification

__all__ = ["Writes", "notifications_of"]

_OBSERVED_ATTRIBUTE = "_rsetl_writes"
"""Set on a moto backend whose writes a :class:`Writes` observes."""


class Writes:
    """The versions moto's backend writes and the deletions it makes, noted per request thread, so a
    notification describes what its own request did, not what the key holds by the time it is sent."""

    def __init__(self) -> None:
        self._local = threading.local()

    def observe(self, backend: Any) -> None:
        """Note `backend`'s writes from now on (once per backend: moto's reset makes new ones)."""
        if getattr(backend, _OBSERVED_ATTRIBUTE, None) is self:
            return
        put, delete = backend.put_object, backend.delete_object

        def put_object(*args: Any, **kwargs: Any) -> Any:
            written = put(*args, **kwargs)
            self._note(("created", written))
            return written

        def delete_object(
            bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False
        ) -> tuple[bool, dict[str, Any]]:
            deleted, meta = delete(bucket_name, key_name, version_id=version_id, bypass=bypass)
            if deleted:
                self._note(("deleted", bucket_name, key_name, version_id, dict(meta)))
            return deleted, meta

        backend.put_object, backend.delete_object = put_object, delete_object
        setattr(backend, _OBSERVED_ATTRIBUTE, self)

    @contextmanager
    def during(self) -> Iterator[list[tuple[Any, ...]]]:
        """The writes made in this thread inside, in order."""
        log: list[tuple[Any, ...]] = []
        self._local.log = log
        try:
            yield log
        finally:
            self._local.log = None

    def _note(self, change: tuple[Any, ...]) -> None:
        log = getattr(self._local, "log", None)
        if log is not None:
            log.append(change)


def notifications_of(
    kind: tuple[str, str, str], writes: list[tuple[Any, ...]], context: RequestContext
) -> list[ObjectNotification]:
    """The notifications of a request of `kind` that made `writes`: the version it created, or a
    deletion per key it deleted, typed as S3 types them ("Using EventBridge": `Delete Marker Created`
    for a delete marker, `Permanently Deleted` for an unversioned object or a deleted version)."""
    bucket, key, reason = kind
    request_id, requester = context.request_id, context.account_id
    if reason != "DeleteObject":
        created = [
            w[1] for w in writes if w[0] == "created" and (w[1].bucket_name, w[1].name) == (bucket, key)
        ]
        if not created:
            return []
        version = created[-1]
        return [
            ObjectNotification(
                bucket, key, reason, request_id, requester, size=version.size,
                etag=version.etag.strip('"'), version_id=version.version_id,
            )
        ]  # fmt: skip
    deletions = [w[1:] for w in writes if w[0] == "deleted" and w[1] == bucket]
    return [
        ObjectNotification(
            bucket, name, reason, request_id, requester, version_id=meta.get("version-id"),
            deletion_type=DELETE_MARKER_CREATED
            if version_id is None and meta.get("delete-marker") == "true"
            else PERMANENTLY_DELETED,
            sequence=sequence,
        )
        for sequence, (_, name, version_id, meta) in enumerate(deletions)
    ]  # fmt: skip
