"""Ticket writes on one tenant: create with a display ID, update with an etag check, both validated.

These functions mutate the tenant in place and raise `RezolveError`s; the caller holds the write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from ticketbridge.sandboxes.rezolve.errors import (
    etag_mismatch,
    input_validation_failure,
    not_found,
    ticket_not_found,
)
from ticketbridge.sandboxes.rezolve.models import Actor, Tenant, Ticket, TicketType
from ticketbridge.sandboxes.rezolve.validation import (
    field_errors,
    missing_required,
    transition_error,
    transition_missing,
)


def timestamp() -> str:
    """Now, as Rezolve writes it: ISO-8601 UTC with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_etag() -> str:
    return str(uuid4())


def create_ticket(
    tenant: Tenant,
    *,
    team_key: str,
    type_id: str,
    values: Mapping[str, Any],
    summary: str | None,
    source: str,
    actor: Actor,
) -> Ticket:
    """Creates a ticket from field values keyed by UUID; `summary` fills the summary field if unset.

    Raises 404 for an unknown team or ticket type and INPUT_VALIDATION_FAILURE for bad values.
    """
    if tenant.team(team_key) is None:
        raise not_found(f"Team not found ({team_key})")
    ticket_type = tenant.ticket_type(type_id)
    if ticket_type is None:
        raise not_found(f"Ticket type not found ({type_id})")
    data = _defaults(ticket_type)
    summary_field = ticket_type.field_named("summary")
    if summary and summary_field is not None:
        data[summary_field.id] = summary
    data.update(values)
    reasons = missing_required(ticket_type, data) | field_errors(tenant, ticket_type, data)
    if reasons:
        raise input_validation_failure(reasons)
    now = timestamp()
    ticket = Ticket(
        id=str(uuid4()),
        object_id=_next_object_id(tenant, ticket_type),
        ticketTypeId=ticket_type.id,
        teamId=team_key,
        etag=new_etag(),
        data=data,
        source=source,
        createdAt=now,
        createdBy=actor,
        updatedAt=now,
        lastUpdatedBy=actor,
    )
    tenant.tickets[ticket.object_id] = ticket
    return ticket


def update_ticket(
    tenant: Tenant,
    object_id: str,
    *,
    etag: str,
    changes: Mapping[str, Any],
    actor: Actor,
    workflow_roles: Iterable[str] | None,
) -> Ticket:
    """Shallow-merges `changes` into the ticket's data and gives it a new etag.

    The etag is checked before the values, so a stale writer learns of the conflict first.
    `workflow_roles` are the caller's realm roles for the transition check; None skips it.
    """
    ticket = tenant.tickets.get(object_id)
    if ticket is None:
        raise ticket_not_found(object_id)
    if ticket.etag != etag:
        raise etag_mismatch()
    ticket_type = tenant.ticket_type(ticket.ticketTypeId)
    assert ticket_type is not None, "tickets always reference a ticket type of their tenant"
    reasons = field_errors(tenant, ticket_type, changes)
    status_field = ticket_type.field_named("status")
    if workflow_roles is not None and status_field is not None and status_field.id in changes:
        new_status = changes[status_field.id]
        if status_field.id not in reasons and isinstance(new_status, str):
            refusal = transition_error(ticket_type, ticket.data.get(status_field.id), new_status, workflow_roles)
            if refusal is not None:
                reasons[status_field.id] = refusal
            else:
                current = ticket.data.get(status_field.id)
                reasons |= transition_missing(ticket_type, current, new_status, {**ticket.data, **changes})
    if reasons:
        raise input_validation_failure(reasons)
    ticket.data.update(changes)
    ticket.etag = new_etag()
    ticket.updatedAt = timestamp()
    ticket.lastUpdatedBy = actor
    return ticket


def _defaults(ticket_type: TicketType) -> dict[str, Any]:
    return {field.id: field.defaultValue for field in ticket_type.fields if field.defaultValue is not None}


def _next_object_id(tenant: Tenant, ticket_type: TicketType) -> str:
    properties = ticket_type.properties
    sequence = tenant.sequences.get(ticket_type.id, properties.startAt - 1) + 1
    tenant.sequences[ticket_type.id] = sequence
    return f"{properties.prefix}-{sequence:0{properties.digits}d}"
