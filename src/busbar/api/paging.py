"""NextToken/Limit pagination over a sorted list of names, as the List* operations do it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from busbar.api.errors import ValidationException

T = TypeVar("T")

DEFAULT_PAGE = 100


def page(
    items: Sequence[tuple[str, T]], next_token: str | None, limit: int | None, default_limit: int = DEFAULT_PAGE
) -> tuple[list[T], str | None]:
    """One page of *items* (sorted by key) after *next_token*; the token of the next page or None."""
    start = 0
    if next_token is not None:
        after = _decode(next_token)
        start = next((i for i, (key, _) in enumerate(items) if key > after), len(items))
    size = limit or default_limit
    chunk = items[start : start + size]
    more = start + size < len(items)
    token = _encode(chunk[-1][0]) if more and chunk else None
    return [value for _, value in chunk], token


def listing(member: str, items: Sequence[tuple[str, T]], body: dict[str, Any]) -> dict[str, Any]:
    """A List* answer: one page of *items* under *member*, with ``NextToken`` when more remain.
    *body* is the request (its ``NextToken`` and ``Limit`` choose the page)."""
    chunk, token = page(items, body.get("NextToken"), body.get("Limit"))
    answer: dict[str, Any] = {member: chunk}
    if token:
        answer["NextToken"] = token
    return answer


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValidationException("The NextToken provided is not valid.") from None
