"""Token and offset paging: every page once, a hard cap, and no loop on a repeated token; fetching
one page ahead of the caller, never more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from ticketbridge.connectors.paging import fetch_ahead, offset_pages, token_pages
from ticketbridge.connectors.walk import WalkStalled


async def test_token_pages_follow_tokens_to_the_last_page() -> None:
    pages = {None: ([1, 2], "a"), "a": ([], "b"), "b": ([3], None)}

    async def fetch(token: str | None) -> tuple[Sequence[int], str | None]:
        return pages[token]

    assert [page async for page in token_pages(fetch, operation="test")] == [[1, 2], [3]]


async def test_a_token_handed_out_twice_stops_the_walk() -> None:
    pages = {None: ([1], "a"), "a": ([2], "b"), "b": ([3], "a")}

    async def fetch(token: str | None) -> tuple[Sequence[int], str | None]:
        return pages[token]

    with pytest.raises(WalkStalled, match="already gave"):
        _ = [page async for page in token_pages(fetch, operation="test")]


async def test_token_pages_stop_at_the_cap() -> None:
    async def fetch(token: str | None) -> tuple[Sequence[int], str | None]:
        return [int(token or 0)], str(int(token or 0) + 1)

    with pytest.raises(WalkStalled, match="cap of 3 pages"):
        _ = [page async for page in token_pages(fetch, operation="test", max_pages=3)]


async def test_offset_pages_move_past_what_came_and_stop_when_no_more() -> None:
    rows = list(range(7))
    asked: list[int] = []

    async def fetch(offset: int) -> tuple[Sequence[int], bool]:
        asked.append(offset)
        page = rows[offset : offset + 3]
        return page, offset + len(page) < len(rows)

    assert [page async for page in offset_pages(fetch, operation="test")] == [[0, 1, 2], [3, 4, 5], [6]]
    assert asked == [0, 3, 6]


async def test_an_empty_page_ends_an_offset_walk_and_the_cap_stops_one() -> None:
    async def empty(offset: int) -> tuple[Sequence[int], bool]:
        return [], True

    assert [page async for page in offset_pages(empty, operation="test")] == []

    async def endless(offset: int) -> tuple[Sequence[int], bool]:
        return [offset], True

    with pytest.raises(WalkStalled, match="cap of 2 pages"):
        _ = [page async for page in offset_pages(endless, operation="test", max_pages=2)]


class Source:
    """Pages 1..`count`, noting how many were asked for and whether it was closed; page `failing`
    raises instead."""

    def __init__(self, count: int, *, failing: int | None = None) -> None:
        self.count = count
        self.failing = failing
        self.fetched = 0
        self.closed = False

    async def pages(self) -> AsyncIterator[int]:
        try:
            for page in range(1, self.count + 1):
                await asyncio.sleep(0)  # a vendor round trip
                if page == self.failing:
                    raise RuntimeError(f"page {page} failed")
                self.fetched = page
                yield page
        finally:
            self.closed = True


async def settle() -> None:
    """Lets the fetch running ahead go as far as it will."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_fetch_ahead_keeps_the_order_and_fetches_exactly_one_page_ahead() -> None:
    source = Source(4)
    received: list[int] = []
    ahead: list[int] = []
    async for page in fetch_ahead(source.pages()):
        received.append(page)
        await settle()  # the caller stores the page meanwhile
        ahead.append(source.fetched - page)

    assert received == [1, 2, 3, 4]
    assert ahead == [1, 1, 1, 0]  # the next page was fetched during each, never a second one
    assert source.closed


async def test_a_page_that_fails_surfaces_after_every_page_before_it() -> None:
    source = Source(4, failing=3)
    received: list[int] = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        async for page in fetch_ahead(source.pages()):
            received.append(page)
            await settle()

    assert received == [1, 2]


async def test_a_caller_that_stops_early_cancels_the_fetch_ahead_and_closes_the_pages() -> None:
    source = Source(10)
    pages = fetch_ahead(source.pages())
    async for page in pages:
        if page == 2:
            break
    await pages.aclose()  # type: ignore[attr-defined]

    assert source.closed and source.fetched <= 3
