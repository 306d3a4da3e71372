"""ServiceNow's sys_dictionary as `WriteMetadata`, and custom (`u_`) column values to ServiceNow.

An incident's columns are its own and those of `task`, which it extends; `mandatory` says which a
write must set. ServiceNow has no per-group create screen, so the metadata is the same for every
assignment group and category. Custom columns are the `u_` ones that are not read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ticketbridge.connectors.servicenow.mapping import format_timestamp
from ticketbridge.domain.fields import Accepts, CustomField, FieldSchema, FieldValue, UnifiedField, WriteMetadata

Json = dict[str, Any]
CUSTOM_PREFIX = "u_"
#: incident column -> the unified field it holds, for the unified fields a write can set.
UNIFIED_COLUMNS = {
    "short_description": "name",
    "description": "description",
    "state": "status",
    "priority": "priority",
    "assigned_to": "assigned_user_id",
    "parent_incident": "parent_ticket_id",
}
ACCEPTS = {
    "string": Accepts.STRING,
    "integer": Accepts.NUMBER,
    "decimal": Accepts.NUMBER,
    "float": Accepts.NUMBER,
    "glide_date": Accepts.DATE,
    "glide_date_time": Accepts.DATETIME,
}


def write_metadata(rows: Iterable[Json]) -> WriteMetadata:
    """From the sys_dictionary rows of incident and task (incident's own row wins for a column)."""
    columns: dict[str, Json] = {}
    for row in sorted(rows, key=lambda r: r.get("name") == "incident"):
        columns[str(row.get("element") or "")] = row
    unified = [
        UnifiedField(name=unified, required=_true(columns[column].get("mandatory")))
        for column, unified in UNIFIED_COLUMNS.items()
        if column in columns
    ]
    custom = [
        _custom(column, row)
        for column, row in columns.items()
        if column.startswith(CUSTOM_PREFIX) and not _true(row.get("read_only"))
    ]
    return WriteMetadata(unified=tuple(unified), custom_fields=tuple(custom))


def _custom(column: str, row: Json) -> CustomField:
    kind = str(row.get("internal_type") or "string")
    accepts = ACCEPTS.get(kind)
    if kind == "reference" and row.get("reference") == "sys_user":
        accepts = Accepts.USER
    return CustomField(
        id=column,
        name=str(row.get("column_label") or column),
        required=_true(row.get("mandatory")),
        vendor_schema=FieldSchema(type=kind, items=None, custom=str(row.get("reference") or "") or None),
        allowed_values=None,
        accepts=accepts,
    )


def wire_values(values: dict[str, FieldValue]) -> Json:
    """Column values of an insert or PATCH; "" clears a column."""
    return {column: _wire(value) for column, value in values.items()}


def _wire(field: FieldValue) -> Any:
    if field.value is None:
        return ""
    if field.accepts is Accepts.DATETIME:
        return format_timestamp(datetime.fromisoformat(field.value))
    return field.value if isinstance(field.value, str) else str(field.value)


def _true(value: Any) -> bool:
    return str(value).lower() == "true"
