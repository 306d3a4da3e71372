"""Single-ticket use cases: create, read, and update with optimistic concurrency.

Vendor-first: the vendor is written before the local store, and no database transaction is held
open across a vendor call (short transactions before and after), so a slow vendor never blocks
the store (SQLite has a single writer).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.connectors.errors import VersionConflict
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead, VendorTicket
from ticketbridge.errors import Conflict, NotFound, PreconditionFailed, VendorRefused
from ticketbridge.services.normalize import ticket_etag, ticket_values
from ticketbridge.services.ticket_requests import TicketCreate, TicketPatch, resolve_changes, resolve_creates
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import tickets as tickets_store


@dataclass(frozen=True, slots=True)
class TicketWritten:
    ticket: TicketRead
    etag: str
    warnings: tuple[str, ...] = ()


async def persist_vendor_tickets(
    db: AsyncSession, connection: ConnectionRead, tickets: Sequence[tuple[VendorTicket, str | None]]
) -> list[TicketRead]:
    """Stores vendor tickets (with their identifiers) as our rows, the same rows any sync of them
    updates, and returns them in order. A row already holding a newer vendor version is kept."""
    values = await ticket_values(db, connection, [ticket for ticket, _ in tickets])
    stored: list[TicketRead] = []
    for ticket, identifier in tickets:
        row = await tickets_store.upsert_ticket(
            db,
            values[ticket.vendor_id],
            organization_id=connection.organization_id,
            connection_id=connection.id,
            identifier=identifier,
        )
        if row is None:
            found = await tickets_store.find_by_vendor_refs(db, [ticket.vendor_id], connection_id=connection.id)
            row = found[ticket.vendor_id]
        stored.append(row)
    return stored


async def persist_vendor_ticket(
    db: AsyncSession, connection: ConnectionRead, ticket: VendorTicket, *, identifier: str | None
) -> TicketRead:
    (stored,) = await persist_vendor_tickets(db, connection, [(ticket, identifier)])
    return stored


async def create_ticket(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    request: TicketCreate,
) -> TicketWritten:
    """Creates the ticket in the vendor, then stores it. A request whose identifier already names a
    ticket of this connection returns that ticket when it is the same request (a safe retry), and
    is a Conflict otherwise."""
    async with sessionmaker.begin() as db:
        (resolved,) = await resolve_creates(db, connection, [request], in_bulk=False)
        existing = await tickets_store.get_by_identifier(db, resolved.identifier, connection_id=connection.id)
    if existing is not None:
        if existing.name == request.name and existing.project_vendor_id == resolved.item.project_vendor_id:
            return TicketWritten(ticket=existing, etag=ticket_etag(existing))
        raise Conflict(
            f"Identifier {resolved.identifier!r} is already used by ticket {existing.id}.",
            details=[{"loc": ["body", "identifier"], "msg": "already used", "ticket_id": str(existing.id)}],
        )
    async with access.open(connection) as connector:
        # Reconciling first makes a retried request adopt the ticket an earlier, unanswered attempt made.
        (outcome,) = await connector.create_tickets([resolved.item], reconcile=True)
    if outcome.ticket is None:
        raise VendorRefused(f"{connection.vendor} refused the ticket: {outcome.error}")
    async with sessionmaker.begin() as db:
        stored = await persist_vendor_ticket(db, connection, outcome.ticket, identifier=resolved.identifier)
    return TicketWritten(
        ticket=stored, etag=ticket_etag(stored), warnings=(outcome.warning,) if outcome.warning else ()
    )


async def get_ticket(db: AsyncSession, connection: ConnectionRead, ticket_id: uuid.UUID) -> TicketWritten:
    ticket = await tickets_store.get_ticket(db, ticket_id, connection_id=connection.id)
    return TicketWritten(ticket=ticket, etag=ticket_etag(ticket))


async def get_ticket_by_identifier(db: AsyncSession, connection: ConnectionRead, identifier: str) -> TicketWritten:
    ticket = await tickets_store.get_by_identifier(db, identifier, connection_id=connection.id)
    if ticket is None:
        raise NotFound(f"No ticket with identifier {identifier!r}.")
    return TicketWritten(ticket=ticket, etag=ticket_etag(ticket))


async def update_ticket(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    ticket_id: uuid.UUID,
    patch: TicketPatch,
    fields_set: set[str],
    *,
    if_match: str | None,
) -> TicketWritten:
    """Applies the fields given. With If-Match, the vendor's current version must still be the one
    the client saw (412 otherwise), so an edit made in the vendor meanwhile is never overwritten."""
    async with sessionmaker.begin() as db:
        current = await tickets_store.get_ticket(db, ticket_id, connection_id=connection.id)
        changes = await resolve_changes(db, connection, patch, fields_set, ["body"])
    expected_version = None
    if if_match is not None:
        if not etag_matches(if_match, ticket_etag(current)):
            raise PreconditionFailed(f"Ticket {ticket_id} is no longer at the version named in If-Match.")
        expected_version = current.vendor_version
    if changes.is_empty():
        return TicketWritten(ticket=current, etag=ticket_etag(current))
    async with access.open(connection) as connector:
        try:
            updated = await connector.update_ticket(current.vendor_id, changes, expected_version=expected_version)
        except VersionConflict as exc:
            named = f" (fields changed meanwhile: {', '.join(exc.fields)})" if exc.fields else ""
            message = f"Ticket {ticket_id} changed in {connection.vendor} since the version you saw{named}."
            details = [{"loc": ["body", field], "msg": "changed in the vendor meanwhile"} for field in exc.fields]
            if if_match is not None:
                raise PreconditionFailed(message, details=details) from exc
            raise Conflict(message, details=details) from exc
    async with sessionmaker.begin() as db:
        stored = await persist_vendor_ticket(db, connection, updated, identifier=None)
    return TicketWritten(ticket=stored, etag=ticket_etag(stored))


def etag_matches(header: str, etag: str) -> bool:
    """If-Match with a list of strong ETags, or `*`; weak ETags never match (RFC 9110 §13.1.1)."""
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in candidates
