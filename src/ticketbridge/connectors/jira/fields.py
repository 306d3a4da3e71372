"""Jira's create and edit metadata as `WriteMetadata`, and custom field values to and from Jira.

createmeta (`FieldCreateMetadata[]`) and editmeta (`{fields: {id: FieldMetadata}}`) describe each
field with `required`, `schema {type, items, custom}` and, for options, `allowedValues`. The schema
tells what we accept for a custom field (`Accepts`) and how its value travels: rich text is ADF,
an option `{"id"}`, a user `{"accountId"}`, a datetime `yyyy-MM-dd'T'HH:mm:ss.SSSZ`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ticketbridge.connectors.jira.adf import adf_to_markdown, markdown_to_adf
from ticketbridge.domain.fields import (
    Accepts,
    AllowedValue,
    CustomField,
    FieldSchema,
    FieldValue,
    UnifiedField,
    WriteMetadata,
)

Json = dict[str, Any]
CUSTOM_PREFIX = "customfield_"
#: Jira field id -> the unified field it holds, for the unified fields a write can set.
UNIFIED_FIELDS = {
    "summary": "name",
    "description": "description",
    "priority": "priority",
    "assignee": "assigned_user_id",
    "parent": "parent_ticket_id",
}
#: Jira's custom field type keys (`schema.custom`) whose plain `string` schema is rich text.
RICH_TEXT_TYPES = ("com.atlassian.jira.plugin.system.customfieldtypes:textarea",)
LABELS_TYPES = ("com.atlassian.jira.plugin.system.customfieldtypes:labels",)
#: By (schema type, items): what a caller sends. Types not listed are shown but not settable.
ACCEPTS = {
    ("number", None): Accepts.NUMBER,
    ("date", None): Accepts.DATE,
    ("datetime", None): Accepts.DATETIME,
    ("option", None): Accepts.OPTION,
    ("array", "option"): Accepts.OPTIONS,
    ("user", None): Accepts.USER,
    ("array", "user"): Accepts.USERS,
}


def write_metadata(fields: Iterable[Json], *, status_settable: bool = True) -> WriteMetadata:
    """From createmeta's or editmeta's field entries. Status is not a Jira create field, but
    ticketbridge reaches a requested status through the workflow, so it is always settable."""
    unified: list[UnifiedField] = [UnifiedField(name="status", required=False)] if status_settable else []
    custom: list[CustomField] = []
    for entry in fields:
        field_id = str(entry.get("fieldId") or entry.get("key") or "")
        required = bool(entry.get("required"))
        if field_id in UNIFIED_FIELDS:
            unified.append(UnifiedField(name=UNIFIED_FIELDS[field_id], required=required))
        elif field_id.startswith(CUSTOM_PREFIX):
            custom.append(_custom_field(field_id, entry, required))
    return WriteMetadata(unified=tuple(unified), custom_fields=tuple(custom))


def edit_metadata(issue: Json) -> WriteMetadata:
    fields: Json = (issue.get("editmeta") or {}).get("fields") or {}
    return write_metadata(({**meta, "fieldId": field_id} for field_id, meta in fields.items()), status_settable=True)


def _custom_field(field_id: str, entry: Json, required: bool) -> CustomField:
    schema: Json = entry.get("schema") or {}
    kind, items, custom = str(schema.get("type") or ""), schema.get("items"), schema.get("custom")
    allowed = entry.get("allowedValues")
    return CustomField(
        id=field_id,
        name=str(entry.get("name") or field_id),
        required=required,
        vendor_schema=FieldSchema(type=kind, items=items, custom=custom),
        allowed_values=tuple(_allowed(value) for value in allowed) if isinstance(allowed, list) else None,
        accepts=_accepts(kind, items, custom),
    )


def _accepts(kind: str, items: str | None, custom: str | None) -> Accepts | None:
    if kind == "string":
        return Accepts.MARKDOWN if custom in RICH_TEXT_TYPES else Accepts.STRING
    if kind == "array" and items == "string":
        return Accepts.LABELS if custom in LABELS_TYPES or custom is None else None
    return ACCEPTS.get((kind, items))


def _allowed(value: Json) -> AllowedValue:
    label = value.get("value") or value.get("name") or value.get("id")
    return AllowedValue(id=str(value.get("id")), value=str(label))


def wire_values(values: dict[str, FieldValue]) -> Json:
    """`fields` entries of a create or edit for custom field values in their neutral forms."""
    return {field_id: _wire(value) for field_id, value in values.items()}


def _wire(field: FieldValue) -> Any:
    value = field.value
    if value is None:
        return None
    match field.accepts:
        case Accepts.MARKDOWN:
            return markdown_to_adf(value)
        case Accepts.OPTION:
            return {"id": value}
        case Accepts.OPTIONS:
            return [{"id": item} for item in value]
        case Accepts.USER:
            return {"accountId": value}
        case Accepts.USERS:
            return [{"accountId": item} for item in value]
        case Accepts.DATETIME:
            return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S.000%z")
        case _:
            return value


def read_value(value: Any) -> Any:
    """A custom field's value as our API shows it: ADF becomes Markdown, a user their account id,
    an option `{id, value}` (without Jira's `self`)."""
    if isinstance(value, list):
        return [read_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("type") == "doc":
        return adf_to_markdown(value)
    if "accountId" in value:
        return value["accountId"]
    if "value" in value and "id" in value:
        return {"id": str(value["id"]), "value": value["value"]}
    return value
