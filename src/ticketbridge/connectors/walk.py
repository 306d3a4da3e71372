"""The change walk every connector's sync uses: a keyset over (change time, vendor key), resumable.

Design note. Offsets and page tokens point into a result list that shifts while the walk goes on: a
ticket changed mid-walk moves to the end and every later ticket moves up one place, so the next
page skips one. This walk never follows an offset or a token. Each page is a fresh query from a
*watermark*, and the watermark only moves forward over change times the walk has finished:

- The vendor answers "changed at or after `since`, oldest change first" (`ChangeFeed.since`). Its
  filter may be coarser than its timestamps (JQL reads minutes), so the walk rounds every change
  time down to the feed's `resolution`: a *bucket*.
- After a page, the watermark moves to the bucket of the page's last item. That bucket may go on
  past the page, so the next query asks for it again, and the items already yielded from it
  (remembered by identity: vendor id and version, at most a page of them) are left out. A ticket
  changed meanwhile has a new version and a later time, so it comes again, later; one not changed
  keeps its place; none is skipped.
- A page entirely within one bucket cannot move the watermark. That bucket is then walked on its
  own by vendor key (`ChangeFeed.window`: `start <= changed < end`, `key > after`, keys never
  move), and the walk goes on from the next bucket.
- A vendor that can leave named items out of a query (`ChangeFeed.excluding`: Jira's
  `id not in (...)`) is handed the items already yielded from the bucket asked again, so that every
  page carries only new items and a walk takes about as many pages as there are pages of items.
  Without it, those items come again, take room on the page and are dropped here.

What it guarantees: every item that does not change during the walk is yielded, exactly once. An
item changed during the walk is yielded again, at its new version, when the change lands ahead of
the walk's position; a change landing in the bucket being walked by key (only a bucket that is
still "now") is left to the next walk, whose `since` the sync puts before this walk's start. With
`excluding`, the vendor leaves an item out by id whatever its version, so an item yielded from the
bucket being asked again and changed meanwhile comes again only from a later query; a change made
as the walk reaches "now" may likewise be left to the next walk.

Guards: at most `max_pages` queries per walk, and a window page that does not move past the last
key is refused (a vendor ignoring the filter would otherwise loop). Both raise `WalkStalled`, a
retriable error: the caller resumes from its own checkpoint (the newest change time it stored),
which this walk accepts as `since`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from ticketbridge.connectors.errors import VendorRetriable

T = TypeVar("T")
#: Buckets are counted from here (whole-minute zone offsets keep minutes aligned in any zone).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Hard cap on the queries of one walk (a million tickets at 100 a page).
MAX_WALK_PAGES = 10_000

#: (items, more): at most `limit` items, and whether the vendor has more after them.
Page = tuple[Sequence[T], bool]
#: The items a query is to leave out (at most two pages of them).
Excluded = Sequence[T]


class WalkStalled(VendorRetriable):
    """The walk hit its page cap or stopped making progress; resume from the last checkpoint."""


@dataclass(frozen=True, slots=True)
class ExcludingQueries(Generic[T]):
    """`ChangeFeed.since` and `.window` with one more argument before `limit`: items to leave out,
    by vendor id (never empty; a window's may hold keys up to `after`, which need no naming)."""

    since: Callable[[datetime, Excluded[T], int], Awaitable[Page[T]]]
    window: Callable[[datetime, datetime, T | None, Excluded[T], int], Awaitable[Page[T]]]


@dataclass(frozen=True, slots=True)
class ChangeFeed(Generic[T]):
    """What a vendor answers for the walk; every call is a fresh query."""

    #: `since(moment, limit)`: items changed at or after `moment` (every item when None), ordered by
    #: change time, oldest first.
    since: Callable[[datetime | None, int], Awaitable[Page[T]]]
    #: `window(start, end, after, limit)`: items changed in [start, end), ordered by vendor key,
    #: keys greater than `after`'s (from the first when None).
    window: Callable[[datetime, datetime, T | None, int], Awaitable[Page[T]]]
    #: The item's change time (timezone-aware); None counts as the epoch.
    changed_at: Callable[[T], datetime | None]
    #: What makes a yielded item the same one again: vendor id and version.
    identity: Callable[[T], Hashable]
    #: The precision of `since`'s filter: a minute for JQL, a millisecond for Rezolve.
    resolution: timedelta
    #: Optional: `since` and `window` that also leave out the given items (by vendor id), for
    #: vendors whose queries can name them; the walk then uses these instead.
    excluding: ExcludingQueries[T] | None = None


def bucket_of(moment: datetime | None, resolution: timedelta) -> datetime:
    """`moment` rounded down to a multiple of `resolution` since the epoch (UTC)."""
    if moment is None:
        return EPOCH
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return EPOCH + ((aware - EPOCH) // resolution) * resolution


async def walk_changes(
    feed: ChangeFeed[T], *, since: datetime | None, page_size: int, max_pages: int = MAX_WALK_PAGES
) -> AsyncIterator[list[T]]:
    """Pages of every item changed at or after `since` (all when None), oldest change first. None
    that stays unchanged is skipped; one changed meanwhile may come twice (see the module note)."""
    walk = _Walk(feed, page_size=page_size, max_pages=max_pages)
    bucket = bucket_of(since, feed.resolution) if since is not None else None
    yielded: dict[Hashable, T] = {}  # the items yielded from `bucket`, by identity
    while True:
        walk.count_page()
        items, more = await walk.since(bucket, yielded)
        fresh = [item for item in items if feed.identity(item) not in yielded]
        if fresh:
            yield fresh
        if not more or not items:
            return
        last = bucket_of(feed.changed_at(items[-1]), feed.resolution)
        if bucket is None or last > bucket:
            bucket = last
            yielded = {feed.identity(i): i for i in items if bucket_of(feed.changed_at(i), feed.resolution) == last}
            continue
        # The whole page lies in `bucket`: walk it by key, then go on from the next bucket.
        yielded.update((feed.identity(item), item) for item in items)
        async for page in walk.window(bucket, yielded):
            yield page
        bucket, yielded = bucket + feed.resolution, {}


class _Walk(Generic[T]):
    def __init__(self, feed: ChangeFeed[T], *, page_size: int, max_pages: int) -> None:
        self._feed = feed
        self._page_size = page_size
        self._max_pages = max_pages
        self._pages = 0

    def count_page(self) -> None:
        if self._pages >= self._max_pages:
            raise WalkStalled(f"The change walk reached its cap of {self._max_pages} pages; it resumes later.")
        self._pages += 1

    async def since(self, bucket: datetime | None, yielded: dict[Hashable, T]) -> Page[T]:
        excluding = self._feed.excluding
        if excluding is None or bucket is None or not yielded:
            return await self._feed.since(bucket, self._page_size)
        return await excluding.since(bucket, list(yielded.values()), self._page_size)

    async def window(self, start: datetime, yielded: dict[Hashable, T]) -> AsyncIterator[list[T]]:
        """Every item changed within the bucket at `start`, by key, less the `yielded` ones."""
        end = start + self._feed.resolution
        after: T | None = None
        excluding = self._feed.excluding
        while True:
            self.count_page()
            if excluding is None or not yielded:
                items, more = await self._feed.window(start, end, after, self._page_size)
            else:
                items, more = await excluding.window(start, end, after, list(yielded.values()), self._page_size)
            fresh = [item for item in items if self._feed.identity(item) not in yielded]
            if fresh:
                yield fresh
            if not more or not items:
                return
            if after is not None and self._feed.identity(items[-1]) == self._feed.identity(after):
                raise WalkStalled("The vendor answered the same page twice; the change walk stopped.")
            after = items[-1]
