"""Single-ticket use cases: create, read, and update with optimistic concurrency.

Vendor-first: the vendor is written before the local store, and no database transaction is held
open across a vendor call (short transactions before and after), so a slow vendor never blocks
the store (SQLite has a single writer).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorRejected, VersionConflict
from ticketbridge.domain.fields import FieldRefusal
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketBaseline, TicketChanges, TicketRead
from ticketbridge.errors import (
    Conflict,
    CreateInProgress,
    InvalidFields,
    NotFound,
    PreconditionFailed,
    VendorRefused,
    VendorUnavailable,
)
from ticketbridge.services import create_claims, preflight, write_metadata
from ticketbridge.services.create_claims import Busy, Stored
from ticketbridge.services.normalize import ticket_etag
from ticketbridge.services.persist import persist_vendor_ticket
from ticketbridge.services.ticket_requests import (
    TicketCreate,
    TicketPatch,
    resolve_changes,
    resolve_creates,
    users_named,
)
from ticketbridge.services.vendor_creates import create_once
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import tickets as tickets_store


@dataclass(frozen=True, slots=True)
class TicketWritten:
    ticket: TicketRead
    etag: str
    warnings: tuple[str, ...] = ()


async def create_ticket(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    request: TicketCreate,
) -> TicketWritten:
    """Creates the ticket in the vendor, then stores it, at most once per identifier: a request whose
    identifier already names a ticket of this connection returns that ticket when it is the same
    request (a safe retry), and is a Conflict otherwise. While another request or job creates with
    the same identifier, this one waits a little for its ticket, then answers CreateInProgress."""
    async with sessionmaker.begin() as db:
        (resolved,) = await resolve_creates(db, connection, [request], in_bulk=False)
    async with access.open(connection) as connector:
        checked = await write_metadata.preflight_creates(connector, [resolved], in_bulk=False)
        if checked.failed:
            raise InvalidFields("The ticket does not pass the vendor's field configuration.", details=checked.failed[0])
        (resolved,) = checked.passed
        terms = access.claim_terms(connector, create_claims.request_owner())
        decisions = await create_claims.claim_waiting(sessionmaker, connection, [resolved.identifier], terms)
        (result,) = await create_once(
            sessionmaker.begin,
            connector,
            connection,
            [resolved],
            decisions,
            terms,
            read_back_later=access.read_back_later,
        )
        if result.field_errors:
            scope = write_metadata.scope_of(resolved)
            fresh = await write_metadata.refresh_after_refusal(connector, [scope])
            raise VendorRefused(
                f"{connection.vendor} refused the ticket: {result.error}",
                details=preflight.refusal_details(result.field_errors, ["body"], fresh[scope]),
            )
    if result.ticket is not None:
        return TicketWritten(
            ticket=result.ticket, etag=ticket_etag(result.ticket), warnings=(result.warning,) if result.warning else ()
        )
    decision = decisions[resolved.identifier]
    if isinstance(decision, Stored):
        raise Conflict(
            result.error,
            details=[{"loc": ["body", "identifier"], "msg": "already used", "ticket_id": str(decision.ticket.id)}],
        )
    if isinstance(decision, Busy):
        raise CreateInProgress(result.error, retry_after_seconds=result.retry_after)
    if result.retry_after is not None:  # sent and not confirmed: reconciled when retried
        raise VendorUnavailable(result.error, retry_after_seconds=result.retry_after)
    raise VendorRefused(f"{connection.vendor} refused the ticket: {result.error}")


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
    """Applies the fields given. With If-Match, the stored ticket must be at the version the client
    saw (412 otherwise), and the vendor's ticket must not have changed since in a field being
    written (412 naming the fields), so an edit made in the vendor meanwhile is never overwritten.
    The baseline of that check is the stored row, so every API process answers alike."""
    async with sessionmaker.begin() as db:
        current = await tickets_store.get_ticket(db, ticket_id, connection_id=connection.id)
        changes = await resolve_changes(db, connection, patch, fields_set, ["body"])
        users = await users_named(db, connection, [patch.custom_fields or {}])
    expected = None
    if if_match is not None:
        if not etag_matches(if_match, ticket_etag(current)):
            raise PreconditionFailed(f"Ticket {ticket_id} is no longer at the version named in If-Match.")
        expected = baseline_of(current)
    if changes.is_empty() and not patch.custom_fields:
        return TicketWritten(ticket=current, etag=ticket_etag(current))
    async with access.open(connection) as connector:
        custom_fields = patch.custom_fields or {}
        changes = await preflight_update(connector, current.vendor_key, changes, custom_fields, users, ["body"])
        try:
            updated = await connector.update_ticket(current.vendor_id, changes, expected=expected)
        except VendorRejected as exc:
            if not exc.field_errors:
                raise
            fresh = await connector.edit_metadata(current.vendor_key, refresh=True)  # the cached copy is stale
            refusals = [FieldRefusal(field=name, message=text) for name, text in exc.field_errors.items()]
            raise VendorRefused(
                f"{connection.vendor} refused the update: {exc.message}",
                details=preflight.refusal_details(refusals, ["body"], fresh),
            ) from exc
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


async def preflight_update(
    connector: Connector,
    vendor_key: str,
    changes: TicketChanges,
    custom_fields: dict[str, Any],
    users: dict[str, str],
    prefix: list[Any],
) -> TicketChanges:
    """The changes with their custom fields converted, once the edit metadata of the ticket admits
    every field; InvalidFields listing each problem otherwise (nothing is written)."""
    checked = await write_metadata.check_edit(
        connector, vendor_key, changes, custom_fields=custom_fields, users=users, prefix=prefix
    )
    if checked.problems:
        raise InvalidFields("The update does not pass the vendor's field configuration.", details=checked.problems)
    return changes.model_copy(update={"custom_fields": checked.values})


def baseline_of(stored: TicketRead) -> TicketBaseline | None:
    """The stored ticket as the vendor held it at its stored version (None when no version is
    known: then nothing can be expected of the vendor)."""
    if stored.vendor_version is None:
        return None
    return TicketBaseline(
        version=stored.vendor_version,
        name=stored.name,
        description=stored.description,
        status_name=stored.vendor_status,
        priority_name=stored.vendor_priority,
        assignee_vendor_id=stored.assigned_user_vendor_id,
    )


def etag_matches(header: str, etag: str) -> bool:
    """If-Match with a list of strong ETags, or `*`; weak ETags never match (RFC 9110 §13.1.1)."""
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in candidates
