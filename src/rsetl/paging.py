"""The one paginator of the local list operations: a page of items, and an opaque token to the next."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from rsetl.errors import ServiceError

T = TypeVar("T")


def page(
    items: Sequence[T], token: str | None, size: int, invalid: Callable[[str], ServiceError]
) -> tuple[list[T], str | None]:
    """The `size` items from where `token` points (the start when None or empty), and the token of the
    page after (None on the last); a token this did not issue raises `invalid(token)`, the service's
    own error for it."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, binascii.Error, UnicodeError):
            raise invalid(token) from None
        if start < 0:
            raise invalid(token)
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return list(items[start:end]), following
