"""Reading provisional tickets back, off the request path.

A vendor whose create answers only ids (Jira) would cost every create a second round trip to read
the ticket back before answering. Instead, when the request and what the connector knows describe
the ticket (`ItemOutcome.provisional`), the create answers at once and stores that ticket; this
module then reads it back from the vendor and stores what only the vendor sets (its dates, its
reporter, the real version), usually within one vendor round trip of the answer.

One task per connection at a time: ids scheduled while a read-back is in flight wait for it and go
together in the next call, so concurrent creates share read-backs (`Connector.get_tickets`, which
splits them into the reads its vendor answers consistently). It is best effort and in memory: when
it fails, or the process stops first, the stored ticket is still right in everything the client
gave, and the connection's next sync (the issue's `updated` is after the sync's cursor) stores the
vendor's state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.observability import get_logger
from ticketbridge.services.persist import persist_vendor_tickets

if TYPE_CHECKING:
    from ticketbridge.services.vendors import VendorAccess

log = get_logger("ticketbridge.services.read_backs")
#: Ids read back in one round at most.
ROUND_SIZE = 100


@dataclass
class ReadBacks:
    """This process's pending read-backs, by connection (`Runtime.read_backs`)."""

    _pending: dict[uuid.UUID, dict[str, None]] = field(default_factory=dict)
    _tasks: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict)

    def schedule(self, access: VendorAccess, connection: ConnectionRead, vendor_ids: Collection[str]) -> None:
        if not vendor_ids:
            return
        self._pending.setdefault(connection.id, {}).update(dict.fromkeys(vendor_ids))
        if connection.id not in self._tasks:
            self._tasks[connection.id] = asyncio.get_running_loop().create_task(self._run(access, connection))

    async def drain(self) -> None:
        """Returns once every read-back scheduled so far has ended (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def aclose(self, *, timeout_seconds: float = 5.0) -> None:
        """Waits a little for read-backs in flight, then cancels the rest (the next sync has them)."""
        try:
            await asyncio.wait_for(self.drain(), timeout_seconds)
        except TimeoutError:
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, access: VendorAccess, connection: ConnectionRead) -> None:
        try:
            # No await between finding nothing pending and leaving: a `schedule` meanwhile starts a new task.
            while pending := self._pending.get(connection.id):
                ids = list(pending)[:ROUND_SIZE]
                for vendor_id in ids:
                    del pending[vendor_id]
                await _read_back(access, connection, ids)
            self._pending.pop(connection.id, None)
        finally:
            del self._tasks[connection.id]


async def _read_back(access: VendorAccess, connection: ConnectionRead, vendor_ids: list[str]) -> None:
    try:
        async with access.open(connection) as connector:
            tickets = await connector.get_tickets(vendor_ids)
        async with access.sessionmaker.begin() as db:
            await persist_vendor_tickets(db, connection, [(ticket, None) for ticket in tickets.values()])
    except Exception as exc:  # best effort by design (module docstring): the next sync stores them
        log.warning(
            "tickets.read_back_failed", connection_id=str(connection.id), tickets=len(vendor_ids), error=str(exc)
        )
        return
    log.debug("tickets.read_back", connection_id=str(connection.id), tickets=len(tickets))
