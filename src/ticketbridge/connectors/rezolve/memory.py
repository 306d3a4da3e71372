"""What a Rezolve connection remembers between units of work, kept in its `MetadataCache`:

- the ticket types (field UUIDs, statuses, workflow) and the teams, reloaded after a TTL;
- internal id -> display ID, because Rezolve's ticket paths take only the display ID and it never
  changes for a ticket. This is only a shortcut (a miss costs one list call), so it is bounded.

Nothing here decides an answer: an update that expects an older version compares with the values
the caller passes (`TicketBaseline`, from the store), not with what this process happened to see.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ticketbridge.connectors.base import MetadataCache

T = TypeVar("T")
Json = dict[str, Any]
METADATA_TTL_SECONDS = 600.0
#: Display IDs remembered per connection, least recently used dropped first (~100 bytes each).
MAX_OBJECT_IDS = 10_000
SCOPE = "rezolve"


class ConnectionMemory:
    def __init__(self, cache: MetadataCache) -> None:
        self._cache = cache

    async def cached(self, name: str, load: Callable[[], Awaitable[T]], *, refresh: bool = False) -> T:
        """The value under `name`, loaded when missing, older than the TTL, or `refresh` is asked.
        Concurrent misses (the items of a bulk operation, or several requests) share one load."""
        return await self._cache.cached((SCOPE, name), load, ttl_seconds=METADATA_TTL_SECONDS, refresh=refresh)

    def remember(self, raw: Json) -> None:
        """Notes a ticket as read or written: its display ID."""
        object_id = raw.get("object_id") or raw.get("objectId")
        if raw.get("id") and object_id:
            object_ids = self._object_ids()
            object_ids[str(raw["id"])] = str(object_id)
            object_ids.move_to_end(str(raw["id"]))
            while len(object_ids) > MAX_OBJECT_IDS:
                object_ids.popitem(last=False)

    def object_id(self, vendor_id: str) -> str | None:
        object_ids = self._object_ids()
        found = object_ids.get(vendor_id)
        if found is not None:
            object_ids.move_to_end(vendor_id)
        return found

    def _object_ids(self) -> OrderedDict[str, str]:
        return self._cache.setdefault((SCOPE, "object_ids"), OrderedDict[str, str])
