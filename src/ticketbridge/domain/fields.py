"""What a write into one project and ticket type takes, as every layer sees it (vendor-neutral).

A connector reads its vendor's create or edit metadata (a create or edit screen, a ticket type's
field list, a data dictionary) into a `WriteMetadata`; services check a request against it
before any vendor write (`services/preflight.py`) and hand the connector `FieldValue`s in the
neutral forms below, which the connector turns into its vendor's wire shapes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Accepts(StrEnum):
    """What a caller sends for a field, and the neutral form a connector receives:

    string, markdown -> str; number -> int | float; date -> "YYYY-MM-DD"; datetime -> ISO 8601 with
    an offset; option -> an allowed value's id; options -> a list of ids; user -> the vendor's user
    id; users -> a list of them; labels -> a list of strings without spaces."""

    STRING = "string"
    MARKDOWN = "markdown"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OPTION = "option"
    OPTIONS = "options"
    USER = "user"
    USERS = "users"
    LABELS = "labels"


class AllowedValue(Frozen):
    id: str
    value: str


class FieldSchema(Frozen):
    """The vendor's own description of the field's type: its type, an array's item type, and the
    vendor's custom type key."""

    type: str
    items: str | None = None
    custom: str | None = None


class CustomField(Frozen):
    id: str
    name: str
    required: bool
    vendor_schema: FieldSchema
    #: None when the field takes any value of its type.
    allowed_values: tuple[AllowedValue, ...] | None = None
    #: None when ticketbridge cannot write the field's type (shown, never settable).
    accepts: Accepts | None


class UnifiedField(Frozen):
    """A unified field (name, description, priority, assigned_user_id, ...) on this screen."""

    name: str
    required: bool


class TransitionFields(Frozen):
    """The fields a status change into `to_status`, one workflow transition from the ticket's status,
    takes (its transition screen, or the fields the transition requires). `required` is what the
    update must supply: a field the ticket already holds a value for is listed but not required."""

    to_status: str
    to_status_vendor_id: str
    unified: tuple[UnifiedField, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()

    def is_to(self, status: str) -> bool:
        return status.casefold() in (self.to_status.casefold(), self.to_status_vendor_id.casefold())


class WriteMetadata(Frozen):
    """The fields a create into a project and type (or an edit of one ticket) can set now. A field
    missing from it is not settable there (not on the screen, or unknown). An edit's `transitions`
    name the statuses reachable in one transition, with the fields each takes."""

    unified: tuple[UnifiedField, ...]
    custom_fields: tuple[CustomField, ...]
    transitions: tuple[TransitionFields, ...] = ()

    def transition_to(self, status: str) -> TransitionFields | None:
        return next((t for t in self.transitions if t.is_to(status)), None)

    def custom(self, field_id: str) -> CustomField | None:
        return next((f for f in self.custom_fields if f.id == field_id), None)

    def unified_field(self, name: str) -> UnifiedField | None:
        return next((f for f in self.unified if f.name == name), None)


class FieldValue(Frozen):
    """One custom field's value in its neutral form (see `Accepts`); None clears the field."""

    accepts: Accepts
    value: Any = None


class FieldRefusal(Frozen):
    """A vendor's refusal of one field of a write, which the preflight could not foresee."""

    field: str  #: a unified field name or a custom field id
    message: str
