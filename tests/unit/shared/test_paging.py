"""The one paginator of the list operations (rsetl/paging.py)."""

from __future__ import annotations

import pytest

from rsetl.errors import ServiceError
from rsetl.paging import page
from rsetl.stepfunctions.exceptions import InvalidToken


def _invalid(token: str) -> ServiceError:
    return InvalidToken(f"Invalid pagination token: {token!r}")


def test_pages_cover_every_item_once_and_the_last_has_no_token() -> None:
    items = list(range(7))
    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        chunk, token = page(items, token, 3, _invalid)
        seen += chunk
        pages += 1
        if token is None:
            break
    assert (seen, pages) == (items, 3)


@pytest.mark.parametrize("token", ["5", "%%%", "LTE=", "bm90LWEtbnVtYmVy"])
def test_a_token_the_paginator_did_not_issue_is_the_services_error(token: str) -> None:
    """ "LTE=" is "-1" and "bm90LWEtbnVtYmVy" is "not-a-number", both well-formed base64."""
    with pytest.raises(InvalidToken, match="Invalid pagination token"):
        page([1, 2, 3], token, 2, _invalid)
