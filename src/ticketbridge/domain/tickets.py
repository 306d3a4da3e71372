"""Tickets as the layers see them: what a connector is asked to write and what it reports back.

These are vendor-neutral. A connector translates them to and from its vendor's shapes; services
never see a Jira or Rezolve payload.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ticketbridge.domain.fields import FieldRefusal, FieldValue
from ticketbridge.domain.vocabulary import StatusCategory


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


def storable_text(text: str) -> str:
    """`text` as every store can keep it: NUL characters removed (PostgreSQL text and JSON cannot
    hold them, and no vendor UI shows them, so removing keeps the text as people see it), and UTF-16
    surrogates that do not pair up replaced by U+FFFD (they have no UTF-8 form); a pair that does is
    joined into its character."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def storable(value: Any) -> Any:
    """`value` with `storable_text` applied to every string in it: in lists, tuples and dicts (keys
    included), at any depth. Anything else is returned as it is."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, tuple):
        return tuple(storable(item) for item in value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


class VendorValue(Frozen):
    """A value read from a vendor. Every field passes through `storable` on the way in: the one
    place where vendor strings are made storable, whichever vendor and connector they came from,
    so a NUL in a Jira summary or a lone surrogate in a Rezolve field cannot stop a sync."""

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class VendorTicket(VendorValue):
    """A ticket as the vendor holds it now, normalized. `version` changes on every vendor-side write
    (Jira's `updated`, Rezolve's etag) and is the basis of our ETag."""

    vendor_id: str
    key: str
    project_vendor_id: str | None
    project_name: str | None = None
    type_name: str | None
    type_vendor_id: str | None
    status_name: str | None
    #: Ours: the connector maps its vendor's status categories into `StatusCategory`.
    status_category: StatusCategory | None
    priority_name: str | None
    assignee_vendor_id: str | None
    reporter_vendor_id: str | None
    parent_vendor_id: str | None
    name: str
    description: str | None
    labels: tuple[str, ...] = ()
    url: str | None
    created_at: datetime | None
    updated_at: datetime | None
    due_date: datetime | None = None
    resolved_at: datetime | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    version: str


class TicketRef(Frozen):
    """How a connector addresses an existing vendor ticket: its stable id and its display key."""

    vendor_id: str
    key: str
    #: The status we last saw, so a ticket already there is not transitioned again.
    status_name: str | None = None


class CreateItem(Frozen):
    """One ticket to create, with every reference already resolved to the vendor's ids."""

    key: str  #: the ledger key; stable across retries
    marker: str  #: idempotency marker the connector stores on the vendor ticket and can search for
    name: str
    project_vendor_id: str
    type_vendor_id: str | None
    type_name: str | None
    description: str | None
    priority_name: str | None
    assignee_vendor_id: str | None
    parent_vendor_id: str | None
    #: Vendor status name to reach after creation (Jira cannot set status at create).
    target_status: str | None
    #: Custom field id -> value, checked against the vendor's write metadata (services/preflight.py).
    custom_fields: dict[str, FieldValue] = Field(default_factory=dict)


class TicketChanges(Frozen):
    """A partial update in vendor terms: only fields that are set change."""

    name: str | None = None
    description: str | None = None
    priority_name: str | None = None
    assignee_vendor_id: str | None = None
    target_status: str | None = None
    #: Custom field id -> value (a `FieldValue` whose value is None clears the field).
    custom_fields: dict[str, FieldValue] = Field(default_factory=dict)
    #: Field names the caller explicitly set to null (clear), e.g. {"assignee_vendor_id"}.
    cleared: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return not self.model_dump(exclude_defaults=True)


class TicketBaseline(Frozen):
    """The fields an update can write, as stored for one vendor version of a ticket (the version a
    client's If-Match names). An update that expects this version compares the vendor's ticket with
    these values to tell which fields changed since; they come from the store, so every process
    answers alike. Names and forms are `VendorTicket`'s."""

    version: str
    name: str
    description: str | None
    status_name: str | None
    priority_name: str | None
    assignee_vendor_id: str | None


class ItemOutcome(Frozen):
    """What happened to one item of a batch."""

    key: str
    ticket: VendorTicket | None = None
    error: str | None = None
    #: Set when the vendor accepted the write but a follow-up (e.g. the status transition) failed.
    warning: str | None = None
    #: The write was sent and not confirmed: it may exist on the vendor (reconcile by marker).
    unknown: bool = False
    #: Per field, why the vendor refused the item (when it said).
    field_errors: tuple[FieldRefusal, ...] = ()
    #: `ticket` was built from the request and the create's answer, not read from the vendor: what
    #: only the vendor sets (its dates, reporter) is missing until `Connector.get_tickets` reads it.
    provisional: bool = False

    @property
    def succeeded(self) -> bool:
        return self.ticket is not None and self.error is None


class VendorProject(VendorValue):
    vendor_id: str  #: Jira project key, Rezolve team id
    internal_id: str | None
    name: str
    project_type: str | None
    #: Set when the listing was asked to embed them (and the vendor has them per project).
    issue_types: tuple[VendorIssueType, ...] | None = None


class VendorIssueType(VendorValue):
    vendor_id: str
    name: str
    subtask: bool = False


class VendorUser(VendorValue):
    vendor_id: str
    name: str | None
    email: str | None
    active: bool
    account_type: str | None = None


class SearchPage(Frozen):
    items: list[VendorTicket]
    next_cursor: str | None


class TicketRead(Frozen):
    """A stored ticket, as services hand it to the API."""

    id: uuid.UUID
    organization_id: uuid.UUID
    connection_id: uuid.UUID
    vendor: str
    vendor_id: str
    vendor_key: str
    identifier: str | None
    name: str
    description: str | None
    status: str | None
    vendor_status: str | None
    status_category: str | None
    priority: str | None
    vendor_priority: str | None
    type: str | None
    type_vendor_id: str | None
    project_id: uuid.UUID | None
    project_vendor_id: str | None
    assigned_user_id: uuid.UUID | None
    assigned_user_vendor_id: str | None
    created_by_user_id: uuid.UUID | None
    created_by_vendor_id: str | None
    parent_ticket_id: uuid.UUID | None
    parent_ticket_vendor_id: str | None
    tags: list[str]
    url: str | None
    due_date: datetime | None
    closed_at: datetime | None
    status_updated_at: datetime | None
    ticket_created_at: datetime | None
    ticket_updated_at: datetime | None
    vendor_version: str | None
    custom_fields: dict[str, Any]
    active: bool
    created_at: datetime
    updated_at: datetime
