"""Token and offset paging: every page once, a hard cap, and no loop on a repeated token."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ticketbridge.connectors.paging import offset_pages, token_pages
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
