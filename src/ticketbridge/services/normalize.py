"""From the vendor's ticket to our row: normalized status and priority, and local references."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead, VendorTicket
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus, StatusCategory
from ticketbridge.services.ticket_requests import is_marker
from ticketbridge.store import directory
from ticketbridge.store import tickets as tickets_store
from ticketbridge.store.tickets import TicketValues

#: When a vendor status is not in the connection's mapping, its category decides (OPEN without one).
STATUS_BY_CATEGORY = {
    StatusCategory.TODO: NormalizedStatus.TODO,
    StatusCategory.IN_PROGRESS: NormalizedStatus.IN_PROGRESS,
    StatusCategory.DONE: NormalizedStatus.CLOSED,
}


def normalized_status(connection: ConnectionRead, ticket: VendorTicket) -> str | None:
    if ticket.status_name is None:
        return None
    for name, value in connection.status_mapping.items():
        if name.lower() == ticket.status_name.lower():
            return value
    category = ticket.status_category
    return (STATUS_BY_CATEGORY[category] if category is not None else NormalizedStatus.OPEN).value


def normalized_priority(connection: ConnectionRead, ticket: VendorTicket) -> str | None:
    if ticket.priority_name is None:
        return None
    for name, value in connection.priority_mapping.items():
        if name.lower() == ticket.priority_name.lower():
            return value
    return NormalizedPriority.UNKNOWN.value


def etag_of(vendor_id: str, vendor_version: str | None) -> str:
    """A strong ETag of the vendor's current version of the ticket (quoted, as HTTP wants it)."""
    digest = hashlib.sha256(f"{vendor_id}:{vendor_version}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def ticket_etag(ticket: TicketRead) -> str:
    return etag_of(ticket.vendor_id, ticket.vendor_version)


async def ticket_values(
    db: AsyncSession, connection: ConnectionRead, tickets: Sequence[VendorTicket]
) -> dict[str, TicketValues]:
    """Row values for each vendor ticket, keyed by vendor id; references resolved in one query each."""
    projects = await directory.project_ids_by_vendor(
        db, [t.project_vendor_id for t in tickets if t.project_vendor_id], connection_id=connection.id
    )
    users = await directory.user_ids_by_vendor(
        db,
        [u for t in tickets for u in (t.assignee_vendor_id, t.reporter_vendor_id) if u],
        connection_id=connection.id,
    )
    parents = await tickets_store.find_by_vendor_refs(
        db, [t.parent_vendor_id for t in tickets if t.parent_vendor_id], connection_id=connection.id
    )
    values: dict[str, TicketValues] = {}
    for ticket in tickets:
        status = normalized_status(connection, ticket)
        parent = parents.get(ticket.parent_vendor_id) if ticket.parent_vendor_id else None
        values[ticket.vendor_id] = TicketValues(
            vendor=connection.vendor.value,
            vendor_id=ticket.vendor_id,
            vendor_key=ticket.key,
            name=ticket.name,
            description=ticket.description,
            status=status,
            vendor_status=ticket.status_name,
            status_category=ticket.status_category.value if ticket.status_category is not None else None,
            priority=normalized_priority(connection, ticket),
            vendor_priority=ticket.priority_name,
            type=ticket.type_name,
            type_vendor_id=ticket.type_vendor_id,
            project_id=projects.get(ticket.project_vendor_id or ""),
            project_vendor_id=ticket.project_vendor_id,
            assigned_user_id=users.get(ticket.assignee_vendor_id or ""),
            assigned_user_vendor_id=ticket.assignee_vendor_id,
            created_by_user_id=users.get(ticket.reporter_vendor_id or ""),
            created_by_vendor_id=ticket.reporter_vendor_id,
            parent_ticket_id=parent.id if parent else None,
            parent_ticket_vendor_id=ticket.parent_vendor_id,
            tags=[label for label in ticket.labels if not is_marker(label)],
            url=ticket.url,
            due_date=ticket.due_date,
            closed_at=ticket.resolved_at if status in (NormalizedStatus.CLOSED, NormalizedStatus.RESOLVED) else None,
            ticket_created_at=ticket.created_at,
            ticket_updated_at=ticket.updated_at,
            vendor_version=ticket.version,
            custom_fields=ticket.custom_fields,
        )
    return values
