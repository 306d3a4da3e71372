"""Storing vendor tickets as our rows: the one path writes take after the vendor confirmed them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead, VendorTicket
from ticketbridge.services.normalize import ticket_values
from ticketbridge.store import tickets as tickets_store


async def persist_vendor_tickets(
    db: AsyncSession, connection: ConnectionRead, tickets: Sequence[tuple[VendorTicket, str | None]]
) -> list[TicketRead]:
    """Stores vendor tickets (with their identifiers) as our rows, the same rows any sync of them
    updates, and returns them in order, in a constant number of statements. A row already holding a
    newer vendor version keeps its values, and still takes the identifier."""
    values = await ticket_values(db, connection, [ticket for ticket, _ in tickets])
    scope = {"organization_id": connection.organization_id, "connection_id": connection.id}
    stored = await tickets_store.upsert_written(
        db, [(values[ticket.vendor_id], identifier) for ticket, identifier in tickets], **scope
    )
    kept = [(ticket, identifier) for ticket, identifier in tickets if ticket.vendor_id not in stored]
    if kept:
        identifiers = {ticket.vendor_id: identifier for ticket, identifier in kept if identifier is not None}
        await tickets_store.set_identifiers(db, identifiers, connection_id=connection.id)
        stored |= await tickets_store.find_by_vendor_refs(
            db, [ticket.vendor_id for ticket, _ in kept], connection_id=connection.id
        )
    return [stored[ticket.vendor_id] for ticket, _ in tickets]


async def persist_vendor_ticket(
    db: AsyncSession, connection: ConnectionRead, ticket: VendorTicket, *, identifier: str | None
) -> TicketRead:
    (stored,) = await persist_vendor_tickets(db, connection, [(ticket, identifier)])
    return stored
