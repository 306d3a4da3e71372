"""The shared change walk against a small in-memory vendor that answers the two queries the walk
asks (changed since, and one bucket by key) and lets a test change its data between pages."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ticketbridge.connectors.walk import ChangeFeed, ExcludingQueries, Page, WalkStalled, bucket_of, walk_changes

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Item:
    key: int
    changed: datetime
    version: int = 0


@dataclass
class Vendor:
    """Items by key; `since` orders by (change time, key), `window` by key, as Jira and Rezolve do.
    `between_pages` runs before every answer after the first (someone editing meanwhile)."""

    items: dict[int, Item]
    resolution: timedelta = MINUTE
    between_pages: Callable[[Vendor], None] | None = None
    calls: int = 0
    clock: datetime = field(default=T0 + timedelta(days=1))
    #: Whether its queries can leave named items out (by key, whatever their version), as Jira's can.
    excludes: bool = False

    def touch(self, key: int) -> None:
        self.clock += timedelta(milliseconds=1)
        old = self.items[key]
        self.items[key] = Item(key, self.clock, old.version + 1)

    def _answer(self) -> None:
        if self.calls and self.between_pages:
            self.between_pages(self)
        self.calls += 1

    async def since(self, moment: datetime | None, limit: int, excluding: Sequence[Item] = ()) -> Page[Item]:
        self._answer()
        left_out = {i.key for i in excluding}
        found = sorted(
            (i for i in self.items.values() if (moment is None or i.changed >= moment) and i.key not in left_out),
            key=lambda i: (i.changed, i.key),
        )
        return found[:limit], len(found) > limit

    async def window(
        self, start: datetime, end: datetime, after: Item | None, limit: int, excluding: Sequence[Item] = ()
    ) -> Page[Item]:
        self._answer()
        left_out = {i.key for i in excluding}
        found = sorted(
            (
                i
                for i in self.items.values()
                if start <= i.changed < end and (after is None or i.key > after.key) and i.key not in left_out
            ),
            key=lambda i: i.key,
        )
        return found[:limit], len(found) > limit

    def feed(self) -> ChangeFeed[Item]:
        excluding: ExcludingQueries[Item] = ExcludingQueries(
            since=lambda moment, items, limit: self.since(moment, limit, items),
            window=lambda start, end, after, items, limit: self.window(start, end, after, limit, items),
        )
        return ChangeFeed(
            since=self.since,
            window=self.window,
            changed_at=lambda item: item.changed,
            identity=lambda item: (item.key, item.version),
            resolution=self.resolution,
            excluding=excluding if self.excludes else None,
        )


async def walk(vendor: Vendor, *, since: datetime | None = None, page_size: int = 10, **kwargs: int) -> list[Item]:
    return [
        item async for page in walk_changes(vendor.feed(), since=since, page_size=page_size, **kwargs) for item in page
    ]


def spread(count: int, *, per_minute: int) -> dict[int, Item]:
    """`count` items, `per_minute` of them in each minute (seconds apart), keys shuffled across time."""
    keys = list(range(1, count + 1))
    random.Random(count).shuffle(keys)
    return {key: Item(key, T0 + MINUTE * (n // per_minute) + timedelta(seconds=n % 60)) for n, key in enumerate(keys)}


@pytest.mark.parametrize("excludes", [False, True])
@pytest.mark.parametrize("per_minute", [1, 7, 25, 60])
async def test_every_item_comes_once_oldest_change_first(per_minute: int, excludes: bool) -> None:
    vendor = Vendor(spread(120, per_minute=per_minute), excludes=excludes)
    items = await walk(vendor, page_size=10)
    assert sorted(i.key for i in items) == list(range(1, 121))
    assert len(items) == 120
    assert [bucket_of(i.changed, MINUTE) for i in items] == sorted(bucket_of(i.changed, MINUTE) for i in items)


@pytest.mark.parametrize("excludes", [False, True])
@pytest.mark.parametrize("per_minute", [1, 7, 25, 60])
async def test_items_changed_mid_walk_skip_no_other(per_minute: int, excludes: bool) -> None:
    rng = random.Random(per_minute)
    touched: set[int] = set()

    def someone_edits(vendor: Vendor) -> None:
        for key in rng.sample(sorted(vendor.items), 3):
            vendor.touch(key)
            touched.add(key)

    vendor = Vendor(spread(150, per_minute=per_minute), between_pages=someone_edits, excludes=excludes)
    items = await walk(vendor, page_size=10)

    assert {i.key for i in items} == set(range(1, 151))
    untouched = [i.key for i in items if i.key not in touched]
    assert len(untouched) == len(set(untouched)) == 150 - len(touched)  # each once, at its place
    # A change made mid-walk comes when it lands ahead of the walk; one that lands behind it (the
    # minute being walked by key) is for the next walk, which starts before this one began.
    assert sum(i.version > 0 for i in items) > 0


@pytest.mark.parametrize("excludes", [False, True])
async def test_a_tie_larger_than_a_page_is_walked_by_key(excludes: bool) -> None:
    same = T0 + timedelta(seconds=5)
    vendor = Vendor({key: Item(key, same) for key in range(1, 36)} | {99: Item(99, T0 + 2 * MINUTE)}, excludes=excludes)
    items = await walk(vendor, page_size=10)
    assert [i.key for i in items] == [*range(1, 11), *range(11, 36), 99]


@pytest.mark.parametrize("per_minute", [1, 7, 25, 60, 250])
async def test_a_vendor_that_excludes_answers_no_page_twice(per_minute: int) -> None:
    vendor = Vendor(spread(1000, per_minute=per_minute), excludes=True)
    items = await walk(vendor, page_size=100)
    assert sorted(i.key for i in items) == list(range(1, 1001))
    # One query per page of items, and at most one more for each minute larger than a page.
    assert vendor.calls <= 10 + 1 + (1000 // per_minute if per_minute > 100 else 0), vendor.calls


async def test_millisecond_ties_on_a_fine_resolution() -> None:
    moments = [T0 + timedelta(milliseconds=n // 12) for n in range(60)]
    vendor = Vendor({n + 1: Item(n + 1, m) for n, m in enumerate(moments)}, resolution=timedelta(milliseconds=1))
    items = await walk(vendor, page_size=5)
    assert sorted(i.key for i in items) == list(range(1, 61)) and len(items) == 60


async def test_a_walk_resumed_from_its_checkpoint_misses_nothing_after_it() -> None:
    vendor = Vendor(spread(80, per_minute=20))
    first: list[Item] = []
    async for page in walk_changes(vendor.feed(), since=None, page_size=10):
        first += page
        if len(first) >= 30:
            break
    checkpoint = max(i.changed for i in first)
    rest = await walk(vendor, since=checkpoint, page_size=10)
    assert {i.key for i in first} | {i.key for i in rest} == set(range(1, 81))


async def test_the_page_cap_stops_the_walk_with_a_retriable_error() -> None:
    vendor = Vendor(spread(50, per_minute=1))
    with pytest.raises(WalkStalled, match="cap of 3 pages"):
        await walk(vendor, page_size=5, max_pages=3)


async def test_a_vendor_ignoring_the_key_filter_stops_the_walk() -> None:
    same = T0 + timedelta(seconds=5)
    vendor = Vendor({key: Item(key, same) for key in range(1, 30)})

    async def ignores_after(start: datetime, end: datetime, after: Item | None, limit: int) -> Page[Item]:
        return await vendor.window(start, end, None, limit)

    feed = vendor.feed()
    stubborn = ChangeFeed(
        since=feed.since,
        window=ignores_after,
        changed_at=feed.changed_at,
        identity=feed.identity,
        resolution=feed.resolution,
    )
    with pytest.raises(WalkStalled, match="same page twice"):
        async for _ in walk_changes(stubborn, since=None, page_size=10):
            pass


def test_buckets_round_down_from_the_epoch() -> None:
    moment = datetime(2026, 5, 4, 3, 2, 1, 987654, tzinfo=UTC)
    assert bucket_of(moment, MINUTE) == datetime(2026, 5, 4, 3, 2, tzinfo=UTC)
    assert bucket_of(moment, timedelta(milliseconds=1)) == moment.replace(microsecond=987000)
    assert bucket_of(None, MINUTE).year == 1970
