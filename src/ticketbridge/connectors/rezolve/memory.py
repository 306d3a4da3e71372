"""What a Rezolve connection remembers between units of work, kept in its `MetadataCache`:

- the ticket types (field UUIDs, statuses, workflow) and the teams, reloaded after a TTL;
- internal id -> display ID, because Rezolve's ticket paths take only the display ID and it never
  changes for a ticket;
- the data of recently seen ticket versions (etag -> values). Rezolve keeps no history, so this is
  how an update told to expect an older etag can tell which fields changed since that version.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ticketbridge.connectors.base import MetadataCache

T = TypeVar("T")
Json = dict[str, Any]
METADATA_TTL_SECONDS = 600.0
#: Versions remembered per connection; at a few hundred bytes each this stays around a megabyte.
MAX_SNAPSHOTS = 5000
SCOPE = "rezolve"


class ConnectionMemory:
    def __init__(self, cache: MetadataCache) -> None:
        self._cache = cache
        # Concurrent items of a bulk operation all want the metadata: one of them loads it.
        self._loading = asyncio.Lock()

    async def cached(self, name: str, load: Callable[[], Awaitable[T]], *, refresh: bool = False) -> T:
        """The value under `name`, loaded when missing, older than the TTL, or `refresh` is asked."""
        if not refresh and (cached := self._fresh(name)) is not None:
            value: T = cached
            return value
        async with self._loading:
            if not refresh and (cached := self._fresh(name)) is not None:
                value = cached
                return value
            loaded = await load()
            self._cache.entries[(SCOPE, name)] = (time.monotonic(), loaded)
            return loaded

    def _fresh(self, name: str) -> Any:
        entry = self._cache.entries.get((SCOPE, name))
        if entry is None or time.monotonic() - entry[0] > METADATA_TTL_SECONDS:
            return None
        return entry[1]

    def remember(self, raw: Json) -> None:
        """Notes a ticket as read or written: its display ID and the values at its etag."""
        object_id = raw.get("object_id") or raw.get("objectId")
        if raw.get("id") and object_id:
            self._object_ids()[str(raw["id"])] = str(object_id)
        if raw.get("etag"):
            snapshots = self._snapshots()
            snapshots[str(raw["etag"])] = dict(raw.get("data") or {})
            snapshots.move_to_end(str(raw["etag"]))
            while len(snapshots) > MAX_SNAPSHOTS:
                snapshots.popitem(last=False)

    def object_id(self, vendor_id: str) -> str | None:
        return self._object_ids().get(vendor_id)

    def snapshot(self, etag: str) -> Json | None:
        return self._snapshots().get(etag)

    def _object_ids(self) -> dict[str, str]:
        object_ids: dict[str, str] = self._entry("object_ids", dict)
        return object_ids

    def _snapshots(self) -> OrderedDict[str, Json]:
        snapshots: OrderedDict[str, Json] = self._entry("snapshots", OrderedDict)
        return snapshots

    def _entry(self, name: str, factory: Callable[[], Any]) -> Any:
        entry = self._cache.entries.get((SCOPE, name))
        if entry is None:
            entry = (time.monotonic(), factory())
            self._cache.entries[(SCOPE, name)] = entry
        return entry[1]
