"""Field-value and workflow checks; each failure is a `validationResult.reason` entry keyed by field UUID."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from ticketbridge.sandboxes.rezolve.models import FieldDef, FieldKind, Tenant, TicketType

TICKET_DATA_SOURCE = "ticket"


def field_errors(tenant: Tenant, ticket_type: TicketType, values: Mapping[str, Any]) -> dict[str, str]:
    """Checks each value against its field definition; unknown field UUIDs are errors too."""
    fields = {field.id: field for field in ticket_type.fields}
    reasons: dict[str, str] = {}
    for field_id, value in values.items():
        field = fields.get(field_id)
        message = "Unknown field" if field is None else _value_error(tenant, field, value)
        if message is not None:
            reasons[field_id] = message
    return reasons


def missing_required(ticket_type: TicketType, values: Mapping[str, Any]) -> dict[str, str]:
    """Required fields absent from a new ticket's values."""
    return {field.id: "Field is required" for field in ticket_type.fields if field.required and field.id not in values}


def transition_missing(
    ticket_type: TicketType, current: str | None, new: str, values: Mapping[str, Any]
) -> dict[str, str]:
    """The `requiredFields` of the transition from `current` to `new` that `values` (the ticket's data
    after the update) leave empty."""
    fields = {field.id: field for field in ticket_type.fields}
    for transition in ticket_type.workflow.transitions:
        if current != new and current in transition.from_ and transition.to == new:
            return {
                field_id: "Field is required for this transition"
                for field_id in transition.requiredFields
                if field_id in fields and _is_empty(fields[field_id], values.get(field_id))
            }
    return {}


def transition_error(ticket_type: TicketType, current: str | None, new: str, roles: Iterable[str]) -> str | None:
    """Why the workflow refuses moving `current` to `new` for a caller with `roles`, or None."""
    if current == new:
        return None
    held = set(roles)
    for transition in ticket_type.workflow.transitions:
        if current in transition.from_ and transition.to == new:
            return None if held & set(transition.allowedRoles) else "Transition not allowed for your roles"
    return f"Transition not allowed from '{current}' to '{new}'"


def _is_empty(field: FieldDef, value: Any) -> bool:
    # The seed's clearing rule: "" for text, null for references, [] for arrays.
    if field.type is FieldKind.ARRAY:
        return value is None or value == []
    return value is None or value == ""


def _value_error(tenant: Tenant, field: FieldDef, value: Any) -> str | None:
    if _is_empty(field, value):
        return "Field is required" if field.required else None
    match field.type:
        case FieldKind.TEXT | FieldKind.RICHTEXT:
            if not isinstance(value, str):
                return "Expected string"
            if field.dataSource == TICKET_DATA_SOURCE and value not in tenant.tickets:
                return f"Unknown ticket ({value})"
        case FieldKind.SELECT:
            if not isinstance(value, str):
                return "Expected string"
            if value not in field.option_values():
                return f"Invalid option '{value}'"
        case FieldKind.USER:
            if not isinstance(value, str):
                return "Expected string"
            if tenant.user(value) is None:
                return "Unknown user"
        case FieldKind.DATE:
            if not isinstance(value, str) or not _is_iso_date(value):
                return "Invalid date"
        case FieldKind.ARRAY:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                return "Expected array of strings"
            unknown = [item for item in value if field.options is not None and item not in field.option_values()]
            if unknown:
                return f"Invalid option '{unknown[0]}'"
    return None


def _is_iso_date(value: str) -> bool:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
        except ValueError:
            continue
        return True
    return False
