"""A Rezolve ticket type's fields as `WriteMetadata`, and custom field values to and from Rezolve.

Rezolve has no separate create or edit screen: a type's `fields[]` (with `required`, `options` and
`defaultValue`) is what both take. Custom fields are the type's fields that hold no unified field
and no creation marker; their id is the field UUID, as in `ticketBody`/`ticketUpdate` and `data`, and
their name the label people see (which, unlike the field's `name`, two fields may share).
A required field with a default is not required of the caller (Rezolve fills it in).
"""

from __future__ import annotations

from typing import Any

from ticketbridge.connectors.rezolve.richtext import html_to_markdown, markdown_to_html
from ticketbridge.connectors.rezolve.schema import MARKER_FIELDS, UNIFIED_FIELDS, FieldSpec, TicketTypeSchema
from ticketbridge.domain.fields import (
    Accepts,
    AllowedValue,
    CustomField,
    FieldSchema,
    FieldValue,
    TransitionFields,
    UnifiedField,
    WriteMetadata,
)

Json = dict[str, Any]
#: The unified fields a create or update writes, by the Rezolve field name holding each.
WRITTEN_UNIFIED = {
    name: unified
    for unified, name in UNIFIED_FIELDS.items()
    if unified in ("name", "description", "status", "priority", "assigned_user_id", "parent_ticket_id")
}
KIND_ACCEPTS = {
    "text": Accepts.STRING,
    "richtext": Accepts.MARKDOWN,
    "select": Accepts.OPTION,
    "user": Accepts.USER,
    "date": Accepts.DATE,
}


def is_custom(spec: FieldSpec) -> bool:
    return spec.name not in UNIFIED_FIELDS.values() and spec.name not in MARKER_FIELDS


def write_metadata(schema: TicketTypeSchema) -> WriteMetadata:
    unified = [
        UnifiedField(name=WRITTEN_UNIFIED[spec.name], required=spec.required and not spec.has_default)
        for spec in schema.fields.values()
        if spec.name in WRITTEN_UNIFIED
    ]
    custom = [_custom_field(spec) for spec in schema.fields.values() if is_custom(spec)]
    return WriteMetadata(unified=tuple(unified), custom_fields=tuple(custom))


def transition_fields(schema: TicketTypeSchema, data: Json) -> tuple[TransitionFields, ...]:
    """The statuses a ticket holding `data` reaches in one workflow transition, each with the fields
    its `requiredFields` name; one the ticket already holds a value for is not required of the caller."""
    status_id = schema.field_id("status")
    current = str(data.get(status_id)) if status_id and data.get(status_id) else None
    if current is None:
        return ()
    specs = {spec.id: spec for spec in schema.fields.values()}
    answer: list[TransitionFields] = []
    for target in sorted(schema.transitions.get(current, ())):
        required = [specs[f] for f in schema.transition_required.get((current, target), ()) if f in specs]
        status = schema.statuses.get(target)
        answer.append(
            TransitionFields(
                to_status=status.name if status else target,
                to_status_vendor_id=target,
                unified=tuple(
                    UnifiedField(name=WRITTEN_UNIFIED[spec.name], required=_is_empty(data.get(spec.id)))
                    for spec in required
                    if spec.name in WRITTEN_UNIFIED
                ),
                custom_fields=tuple(
                    _custom_field(spec).model_copy(update={"required": _is_empty(data.get(spec.id))})
                    for spec in required
                    if is_custom(spec)
                ),
            )
        )
    return tuple(answer)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _custom_field(spec: FieldSpec) -> CustomField:
    accepts = KIND_ACCEPTS.get(spec.kind)
    if spec.kind == "array":
        accepts = Accepts.OPTIONS if spec.restricted else Accepts.LABELS
    return CustomField(
        id=spec.id,
        name=spec.label or spec.name,
        required=spec.required and not spec.has_default,
        vendor_schema=FieldSchema(type=spec.vendor_type or spec.kind, items="string" if spec.kind == "array" else None),
        allowed_values=tuple(AllowedValue(id=value, value=label) for value, label in spec.options.items())
        if spec.restricted
        else None,
        accepts=accepts,
    )


def wire_values(values: dict[str, FieldValue]) -> Json:
    """`ticketBody`/`ticketUpdate` entries for custom values; None clears with Rezolve's empty value."""
    return {field_id: _wire(value) for field_id, value in values.items()}


def _wire(field: FieldValue) -> Any:
    if field.value is None:
        empty: dict[Accepts, Any] = {Accepts.STRING: "", Accepts.MARKDOWN: "", Accepts.OPTIONS: [], Accepts.LABELS: []}
        return empty.get(field.accepts)
    if field.accepts is Accepts.MARKDOWN:
        return markdown_to_html(field.value)
    return field.value


def read_value(spec: FieldSpec, value: Any) -> Any:
    """A stored value as our API shows it: rich text as Markdown, anything else as Rezolve has it."""
    if spec.kind == "richtext" and isinstance(value, str):
        return html_to_markdown(value)
    return value
