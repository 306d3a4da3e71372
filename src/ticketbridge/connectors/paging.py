"""Following a vendor's pages by token or by offset, written once: a hard cap on the pages one walk
asks for, and a guard against a vendor that hands out a token it already gave (which would loop).

Both raise `WalkStalled` (retriable, from `walk.py`) rather than stop quietly: a walk cut short
would look complete, and a marker search that looks complete but is not can create a ticket twice.
Offsets and tokens point into a list that may shift while it is walked; walks that must not miss a
change use the keyset walk in `walk.py` instead, and these serve lookups and directory listings.

`fetch_ahead` wraps any of these walks (and the keyset walk) so that the next page is fetched while
the caller works on the current one: at most one page ahead, so at most two are held.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from ticketbridge.connectors.walk import MAX_WALK_PAGES, WalkStalled

T = TypeVar("T")

#: `fetch(token)`: a page of items and the token of the next page (None on the last page).
TokenPage = tuple[Sequence[T], str | None]
#: `fetch(offset)`: a page of items and whether the vendor has more after them.
OffsetPage = tuple[Sequence[T], bool]


async def token_pages(
    fetch: Callable[[str | None], Awaitable[TokenPage[T]]], *, operation: str, max_pages: int = MAX_WALK_PAGES
) -> AsyncIterator[list[T]]:
    """Every non-empty page, from the first (token None) until the vendor gives no next token."""
    token: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        items, next_token = await fetch(token)
        if items:
            yield list(items)
        if next_token is None:
            return
        if next_token in seen:
            raise WalkStalled(f"{operation}: the vendor handed out a page token it already gave; the walk stopped.")
        seen.add(next_token)
        token = next_token
    raise WalkStalled(f"{operation}: the walk reached its cap of {max_pages} pages; it resumes later.")


async def offset_pages(
    fetch: Callable[[int], Awaitable[OffsetPage[T]]], *, operation: str, max_pages: int = MAX_WALK_PAGES
) -> AsyncIterator[list[T]]:
    """Every non-empty page, from offset 0, each next offset past the items received, until the
    vendor says there are no more (an empty page ends the walk too: the offset could not move)."""
    offset = 0
    for _ in range(max_pages):
        items, more = await fetch(offset)
        if items:
            yield list(items)
        if not more or not items:
            return
        offset += len(items)
    raise WalkStalled(f"{operation}: the walk reached its cap of {max_pages} pages; it resumes later.")


async def fetch_ahead(pages: AsyncIterator[T]) -> AsyncIterator[T]:
    """`pages` in their order, the next one fetched while the caller works on the current one (a
    sync storing it, say), and never more than that one. A page's error surfaces where that page
    would have come, after every page before it; a caller that stops early cancels the fetch and
    closes `pages`. Nothing the caller keeps (a checkpoint) can get ahead of the pages it received."""

    async def fetch() -> T:
        return await anext(pages)

    pending = asyncio.create_task(fetch())
    try:
        while True:
            try:
                page = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.create_task(fetch())
            yield page
    finally:
        pending.cancel()
        # The caller stopped (its own error is on its way): the page fetched ahead, or the error
        # fetching it, is for no one.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()
