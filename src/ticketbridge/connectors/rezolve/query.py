"""Passthrough ticket search: a small query language turned into a POST /ticket/list body.

A query is whitespace-separated terms; double quotes keep spaces inside one (`name~"vpn access"`).

    field=value        EQ; `field=a,b` is IN. On tags, "contains".
    field!=value       NE
    field>value  >=  <  <=   comparisons (dates and date-times; without a zone they are UTC)
    field~value        LIKE: case-insensitive substring
    anything else      free text, joined into Rezolve's `search` (substring over text fields and
                       the display ID)

Terms are combined with AND. Fields use our names where one exists: `key` (display ID), `id`,
`project` or `team`, `type` (name or id), `status` (name or key), `priority` (label or value),
`assignee` (user id), `parent`, `name`, `description`, `tags`, `created`, `updated`. Any other field
goes to Rezolve as a column unchanged: a Rezolve field name (`externalReference`) or field UUID.
Results come newest change first (Rezolve's default order); the cursor is the next offset.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.connectors.rezolve.schema import TicketTypeSchema

Json = dict[str, Any]
TERM = re.compile(r"^([A-Za-z_][\w.-]*)(!=|>=|<=|=|>|<|~)(.*)$", re.DOTALL)
OPERATORS = {"=": "EQ", "!=": "NE", ">": "GT", ">=": "GE", "<": "LT", "<=": "LE", "~": "LIKE"}
#: Our field names -> Rezolve list columns (system columns, or field names valid across types).
COLUMNS = {
    "key": "object_id",
    "id": "id",
    "project": "teamId",
    "team": "teamId",
    "type": "ticketTypeId",
    "status": "status",
    "priority": "priority",
    "assignee": "assignee",
    "parent": "parent",
    "name": "summary",
    "description": "description",
    "tags": "tags",
    "created": "createdAt",
    "updated": "updatedAt",
}
TIME_COLUMNS = frozenset({"createdAt", "updatedAt"})


def list_body(query: str, schemas: Iterable[TicketTypeSchema]) -> Json:
    """`search` and `filter` of a POST /ticket/list body; raises VendorRejected for a bad query."""
    try:
        terms = shlex.split(query)
    except ValueError as exc:
        raise VendorRejected(f"The query cannot be parsed: {exc}.", field_errors={"query": str(exc)}) from None
    types = list(schemas)
    words: list[str] = []
    conditions: list[Json] = []
    for term in terms:
        match = TERM.match(term)
        if match is None:
            words.append(term)
            continue
        name, operator, raw = match.groups()
        column = COLUMNS.get(name, name)
        values = (
            [_vendor_value(column, part, types) for part in raw.split(",")]
            if operator == "="
            else [_vendor_value(column, raw, types)]
        )
        flat = [value for group in values for value in group]
        if operator == "=" and len(flat) > 1:
            conditions.append({"column": column, "op": "IN", "operand": flat})
        else:
            conditions.append({"column": column, "op": OPERATORS[operator], "operand": flat[0]})
    body: Json = {}
    if words:
        body["search"] = " ".join(words)
    if conditions:
        body["filter"] = {"op": "AND", "operand": conditions}
    return body


def _vendor_value(column: str, value: str, types: list[TicketTypeSchema]) -> list[str]:
    """The stored value(s) a value given by name stands for; a status name can be a different key
    in each ticket type, so it may stand for several."""
    if column in TIME_COLUMNS:
        return [_timestamp(value)]
    if column == "status":
        keys = {key for schema in types if (key := schema.status_key(value))}
    elif column == "priority":
        keys = {option for schema in types if (option := schema.priority_value(value))}
    elif column == "ticketTypeId":
        keys = {schema.id for schema in types if value.casefold() in (schema.id, schema.name.casefold())}
    else:
        return [value]
    return sorted(keys) or [value]


def _timestamp(value: str) -> str:
    try:
        parsed = (
            datetime.fromisoformat(value)
            if "T" in value or " " in value
            else datetime.combine(date.fromisoformat(value), datetime.min.time())
        )
    except ValueError:
        raise VendorRejected(f"{value!r} is not a date or date-time.", field_errors={"query": value}) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()
