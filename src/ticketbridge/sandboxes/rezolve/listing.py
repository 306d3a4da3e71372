"""Ticket search for `POST /ticket/list`: the filter tree, free-text search, sort and offset paging.

A filter is `{"op": "AND"|"OR", "operand": [condition or filter, ...]}` and a condition is
`{"column", "op", "operand"}`. A column is a system column, a field UUID or — so that one filter
spans ticket types whose field UUIDs differ — a field name such as "status" or "externalReference".
On array fields EQ, IN, LIKE and the comparisons match when any element matches; NE when none equals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.rezolve.errors import invalid_filter
from ticketbridge.sandboxes.rezolve.models import FieldKind, Tenant, Ticket

MAX_PAGE_SIZE = 100
SYSTEM_COLUMNS = ("id", "object_id", "ticketTypeId", "teamId", "createdAt", "updatedAt")
TIME_COLUMNS = ("createdAt", "updatedAt")
COMPARISONS = ("GT", "GE", "LT", "LE")
OPERATORS = ("EQ", "NE", "LIKE", "IN", *COMPARISONS)

Predicate = Callable[[Ticket], bool]


class ListQuery(BaseModel):
    search: str | None = None
    top: int = Field(30, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0)
    sort: Literal["createdAt", "updatedAt", "object_id"] = "updatedAt"
    searchOrder: Literal["ASC", "DESC"] = "DESC"
    filter: dict[str, Any] | None = None


def select_tickets(tenant: Tenant, query: ListQuery) -> tuple[list[Ticket], int]:
    """One page of matching tickets and the total number of matches; raises INVALID_FILTER (422)."""
    matches = _compile_group(tenant, query.filter) if query.filter else _always
    found = [
        ticket for ticket in tenant.tickets.values() if matches(ticket) and _has_text(tenant, ticket, query.search)
    ]
    # object_id breaks ties so that pages stay deterministic when timestamps collide.
    found.sort(key=lambda ticket: ticket.object_id, reverse=query.searchOrder == "DESC")
    found.sort(key=lambda ticket: str(getattr(ticket, query.sort)), reverse=query.searchOrder == "DESC")
    return found[query.offset : query.offset + query.top], len(found)


def _always(ticket: Ticket) -> bool:
    return True


def _has_text(tenant: Tenant, ticket: Ticket, search: str | None) -> bool:
    if not search:
        return True
    needle = search.casefold()
    ticket_type = tenant.ticket_type(ticket.ticketTypeId)
    text_fields = (
        [f.id for f in ticket_type.fields if f.type in (FieldKind.TEXT, FieldKind.RICHTEXT)] if ticket_type else []
    )
    texts = [ticket.object_id, *(ticket.data.get(field_id) for field_id in text_fields)]
    return any(isinstance(text, str) and needle in text.casefold() for text in texts)


def _compile_group(tenant: Tenant, group: dict[str, Any]) -> Predicate:
    op, operands = group.get("op"), group.get("operand")
    if op not in ("AND", "OR") or not isinstance(operands, list):
        raise invalid_filter("A filter group needs op AND or OR and a list of operands")
    parts = [_compile_node(tenant, node) for node in operands]
    combine = all if op == "AND" else any
    return lambda ticket: combine(part(ticket) for part in parts)


def _compile_node(tenant: Tenant, node: Any) -> Predicate:
    if not isinstance(node, dict):
        raise invalid_filter("A filter operand must be an object")
    if "column" not in node:
        return _compile_group(tenant, node)
    column, op, operand = node["column"], node.get("op"), node.get("operand")
    if op not in OPERATORS:
        raise invalid_filter(f"Unsupported operator '{op}'")
    if op == "IN" and not isinstance(operand, list):
        raise invalid_filter("Operator IN needs a list operand")
    value_of = _column_reader(tenant, column)
    if column in TIME_COLUMNS:
        if op in ("LIKE", "IN"):
            raise invalid_filter(f"Operator {op} does not apply to {column}")
        operand = _parse_time(operand)
    return lambda ticket: _matches(op, value_of(ticket), operand)


def _column_reader(tenant: Tenant, column: Any) -> Callable[[Ticket], Any]:
    if column in SYSTEM_COLUMNS:
        if column in TIME_COLUMNS:
            return lambda ticket: _parse_time(getattr(ticket, column))
        return lambda ticket: getattr(ticket, column)
    fields = [field for ticket_type in tenant.ticketTypes for field in ticket_type.fields]
    if any(field.id == column for field in fields):
        return lambda ticket: ticket.data.get(column)
    field_ids = {
        ticket_type.id: field.id
        for ticket_type in tenant.ticketTypes
        for field in ticket_type.fields
        if field.name == column
    }
    if not field_ids:
        raise invalid_filter(f"Unknown column '{column}'")
    return lambda ticket: ticket.data.get(field_ids.get(ticket.ticketTypeId, ""))


def _matches(op: str, actual: Any, operand: Any) -> bool:
    if isinstance(actual, list):
        if op == "NE":
            return all(item != operand for item in actual)
        return any(_matches(op, item, operand) for item in actual)
    match op:
        case "EQ":
            return bool(actual == operand)
        case "NE":
            return bool(actual != operand)
        case "IN":
            return actual in operand
        case "LIKE":
            return isinstance(actual, str) and str(operand).casefold() in actual.casefold()
    if actual is None or operand is None:
        return False
    if type(actual) is not type(operand):
        actual, operand = str(actual), str(operand)
    match op:
        case "GT":
            return bool(actual > operand)
        case "GE":
            return bool(actual >= operand)
        case "LT":
            return bool(actual < operand)
    return bool(actual <= operand)


def _parse_time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid_filter(f"Invalid date-time '{value}'") from None
    if parsed.tzinfo is None:
        raise invalid_filter(f"Date-time '{value}' needs a time zone")
    return parsed
