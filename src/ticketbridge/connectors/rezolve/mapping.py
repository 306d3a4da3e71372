"""Translation between Rezolve's ticket JSON and ticketbridge's vendor-neutral values.

A Rezolve ticket keys its values by field UUID (`data`), so every translation takes the
`TicketTypeSchema` of the ticket's type. Statuses and priorities travel as option values
("in_progress", "high") and are reported by their labels ("In Progress", "High"), which is what a
connection's status and priority mappings name. Descriptions are HTML on Rezolve, Markdown here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.connectors.rezolve import fields as custom
from ticketbridge.connectors.rezolve.richtext import html_to_markdown, markdown_to_html
from ticketbridge.connectors.rezolve.schema import UNIFIED_FIELDS, TicketTypeSchema
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tickets import (
    CreateItem,
    TicketChanges,
    VendorIssueType,
    VendorProject,
    VendorTicket,
    VendorUser,
)
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus

Json = dict[str, Any]
#: A new connection's status mapping (the statuses of Rezolve's default workflows).
DEFAULT_STATUS_MAPPING = {
    "New": NormalizedStatus.OPEN,
    "Submitted": NormalizedStatus.TODO,
    "In Progress": NormalizedStatus.IN_PROGRESS,
    "Resolved": NormalizedStatus.RESOLVED,
    "Closed": NormalizedStatus.CLOSED,
    "Cancelled": NormalizedStatus.CLOSED,
}
#: A new connection's priority mapping.
DEFAULT_PRIORITY_MAPPING = {
    "Critical": NormalizedPriority.CRITICAL,
    "High": NormalizedPriority.HIGH,
    "Medium": NormalizedPriority.MEDIUM,
    "Low": NormalizedPriority.LOW,
}
#: `source` of the tickets we create, as Rezolve's create page shows it.
SOURCE = "api"


def parse_timestamp(value: Any) -> datetime | None:
    """Rezolve writes `2025-07-10T12:34:56.789Z`; dates alone (due dates) are midnight UTC."""
    if not value:
        return None
    text = str(value)
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def object_id_of(raw: Json) -> str:
    """The display ID: `object_id` on GET and list, `objectId` on create (reference §5.2)."""
    return str(raw.get("object_id") or raw["objectId"])


def to_vendor_ticket(raw: Json, schema: TicketTypeSchema, team_names: dict[str, str]) -> VendorTicket:
    data: Json = raw.get("data") or {}

    def value(unified: str) -> Any:
        field_id = schema.field_id(unified)
        return data.get(field_id) if field_id else None

    status = schema.statuses.get(str(value("status"))) if value("status") else None
    description = value("description")
    mapped_ids = {schema.field_id(unified) for unified in UNIFIED_FIELDS}
    team = raw.get("teamId")
    return VendorTicket(
        vendor_id=str(raw["id"]),
        key=object_id_of(raw),
        project_vendor_id=str(team) if team else None,
        project_name=team_names.get(str(team)) if team else None,
        type_name=schema.name,
        type_vendor_id=schema.id,
        status_name=status.name if status else value("status"),
        status_category=status.category if status else None,
        priority_name=schema.priority_label(value("priority")),
        assignee_vendor_id=value("assigned_user_id") or None,
        reporter_vendor_id=_actor_id(raw.get("createdBy")),
        parent_vendor_id=value("parent_ticket_id") or None,
        name=str(value("name") or ""),
        description=html_to_markdown(description) if description else None,
        labels=tuple(str(tag) for tag in value("tags") or ()),
        url=None,  # Rezolve documents no web address for a ticket
        created_at=parse_timestamp(raw.get("createdAt")),
        updated_at=parse_timestamp(raw.get("updatedAt")),
        due_date=parse_timestamp(value("due_date")),
        custom_fields={
            spec.id: custom.read_value(spec, data[spec.id])
            for spec in schema.fields.values()
            if spec.id not in mapped_ids and data.get(spec.id) not in (None, "", [])
        },
        version=str(raw["etag"]),
    )


def _actor_id(actor: Any) -> str | None:
    """`createdBy` is `{id, type}` in the sandbox; a bare id string is accepted too (reference §7)."""
    if isinstance(actor, dict):
        return str(actor["id"]) if actor.get("id") else None
    return str(actor) if actor else None


def field_values(schema: TicketTypeSchema, values: dict[str, Any]) -> Json:
    """`ticketBody`/`ticketUpdate` entries for unified values (None clears): {field UUID: value}.
    Raises VendorRejected, keyed by unified name, for a field the type lacks or an unknown option."""
    body: Json = {}
    for unified, raw_value in values.items():
        field_id = schema.field_id(unified)
        if field_id is None:
            raise VendorRejected(
                f"Rezolve ticket type {schema.name!r} has no {unified} field.",
                field_errors={unified: "not a field of this ticket type"},
            )
        body[field_id] = _wire_value(schema, unified, raw_value)
    return body


def _wire_value(schema: TicketTypeSchema, unified: str, value: Any) -> Any:
    if unified == "description":
        return markdown_to_html(value) if value else ""
    if unified == "status" and value is not None:
        key = schema.status_key(value)
        if key is None:
            raise VendorRejected(
                f"Rezolve ticket type {schema.name!r} has no status {value!r}.",
                field_errors={"status": f"unknown status {value!r}"},
            )
        return key
    if unified == "priority" and value is not None:
        option = schema.priority_value(value)
        if option is None:
            raise VendorRejected(
                f"Rezolve ticket type {schema.name!r} has no priority {value!r}.",
                field_errors={"priority": f"unknown priority {value!r}"},
            )
        return option
    return value


def create_body(item: CreateItem, schema: TicketTypeSchema, *, parent_object_id: str | None) -> Json:
    """The body of POST /ticket/create. Rezolve takes any status option at create (the workflow only
    governs changes), so the target status is set here rather than by a later update. The marker
    goes into the type's marker field so that a create whose answer was lost can be found again."""
    marker_field = schema.marker_field
    if marker_field is None:
        raise VendorRejected(
            f"Rezolve ticket type {schema.name!r} has no externalReference or tags field to hold the creation marker."
        )
    values: dict[str, Any] = {"name": item.name}
    optional = {
        "description": item.description,
        "priority": item.priority_name,
        "status": item.target_status,
        "assigned_user_id": item.assignee_vendor_id,
        "parent_ticket_id": parent_object_id,
    }
    values.update({unified: value for unified, value in optional.items() if value})
    ticket_body = field_values(schema, values)
    ticket_body.update(custom.wire_values({k: v for k, v in item.custom_fields.items() if v.value is not None}))
    ticket_body[marker_field.id] = [item.marker] if marker_field.kind == "array" else item.marker
    return {
        "source": SOURCE,
        "summary": item.name,
        "ticketBody": ticket_body,
        "attachments": {},
        "ticketRelation": None,
    }


def update_values(changes: TicketChanges) -> dict[str, Any]:
    """The unified values a change writes, status aside (it moves along the workflow); None clears.
    Rezolve's clearing values (seed): "" for text, null for references."""
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = changes.name
    if changes.description is not None or "description" in changes.cleared:
        values["description"] = changes.description
    if changes.priority_name is not None or "priority_name" in changes.cleared:
        values["priority"] = changes.priority_name
    if changes.assignee_vendor_id is not None or "assignee_vendor_id" in changes.cleared:
        values["assigned_user_id"] = changes.assignee_vendor_id
    return values


def marker_of(raw: Json, schema: TicketTypeSchema) -> list[str]:
    """The markers a ticket carries in its type's marker field."""
    marker_field = schema.marker_field
    value = (raw.get("data") or {}).get(marker_field.id) if marker_field else None
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value else []


def with_field_names(exc: VendorRejected, schema: TicketTypeSchema) -> VendorRejected:
    """The same rejection with field errors keyed by unified names instead of field UUIDs (custom
    fields keep their UUID, the id our API names them by)."""
    errors = {schema.unified_name_or_id(key): message for key, message in exc.field_errors.items()}
    detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
    message = f"{exc.message} ({detail})" if detail else exc.message
    return VendorRejected(message, status_code=exc.status_code, field_errors=errors)


def to_vendor_project(team: Json) -> VendorProject:
    """A team is a project; its key (the slug create takes in its path) is the vendor id."""
    return VendorProject(
        vendor_id=str(team["key"]),
        internal_id=str(team["id"]) if team.get("id") else None,
        name=str(team.get("name") or team["key"]),
        project_type=None,
    )


def to_vendor_issue_type(schema: TicketTypeSchema) -> VendorIssueType:
    return VendorIssueType(vendor_id=schema.id, name=schema.name)


def to_vendor_user(user: Json) -> VendorUser:
    name = " ".join(part for part in (user.get("firstName"), user.get("lastName")) if part)
    return VendorUser(
        vendor_id=str(user["id"]),
        name=name or user.get("username"),
        email=user.get("email") or None,
        active=str(user.get("status", "active")).lower() == "active",
    )


def to_vendor_priorities(schemas: Iterable[TicketTypeSchema]) -> list[VendorPriority]:
    """Rezolve keeps priority options per ticket type: the tenant's priorities are their union, each
    option value once (with the label of the first type that has it)."""
    found: dict[str, VendorPriority] = {}
    for schema in schemas:
        spec = schema.fields.get("priority")
        for value, label in spec.options.items() if spec else ():
            found.setdefault(value, VendorPriority(vendor_id=value, name=label))
    return list(found.values())


def to_vendor_statuses(schemas: Iterable[TicketTypeSchema]) -> list[VendorStatus]:
    """The union of the ticket types' workflow statuses, each key once (as the first type that has it
    defines it). The category is the one tickets in that status report."""
    found: dict[str, VendorStatus] = {}
    for schema in schemas:
        for status in schema.statuses.values():
            found.setdefault(status.key, VendorStatus(vendor_id=status.key, name=status.name, category=status.category))
    return list(found.values())
