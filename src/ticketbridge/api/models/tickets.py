"""Ticket request and response models, under the seeds' names and titles (seeds 000, 001, 002, 004)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ticketbridge.api.models.jobs import JobItemResultModel
from ticketbridge.domain.fields import Accepts, CustomField, UnifiedField, WriteMetadata
from ticketbridge.domain.inputs import MAX_DESCRIPTION, MAX_SHORT_TEXT, RequestModel, check_text
from ticketbridge.domain.tickets import TicketRead

#: Custom fields one write may set.
MAX_CUSTOM_FIELDS = 100
CUSTOM_FIELDS_DESCRIPTION = (
    "Custom fields, keyed by the vendor's field id (e.g. Jira 'customfield_10054') or by a field name "
    "unique in the project and type. Values as GET /v1/itsm/tickets/meta/create says each field "
    "`accepts`: a string, Markdown (sent to Jira as ADF), a number, an ISO 8601 date or date-time, an "
    "option by id or value (a list for several), a user by our UUID or the vendor's id, or labels. "
    "Checked before any vendor call: a problem answers 422 INVALID_FIELDS with one `detail` entry per "
    "field (required_missing, not_settable, invalid_option, wrong_type, ambiguous_name)."
)


def checked_custom_fields(value: Any) -> Any:
    """Refuses NUL and unpaired surrogates anywhere in custom field values (keys included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            checked_custom_fields(item)
    elif isinstance(value, list):
        for item in value:
            checked_custom_fields(item)
    else:
        check_text(value)
    return value


class ITSMTicketCreateRequestModel(RequestModel):
    model_config = ConfigDict(title="ITSM Ticket Create Request")

    name: str = Field(title="Name", description="Name/Title of the Ticket", min_length=1, max_length=MAX_SHORT_TEXT)
    project_id: uuid.UUID | None = Field(
        None,
        title="Project Id",
        description="Leen project UUID. Either project_id or project_vendor_id must be provided.",
    )
    project_vendor_id: str | None = Field(
        None,
        title="Project Vendor Id",
        description="Vendor's project identifier (e.g., Jira project key 'PROJ'). Alternative to project_id.",
        max_length=MAX_SHORT_TEXT,
    )
    type: str | None = Field(
        None, title="Type", description="Type of the Ticket (e.g., Task, Bug, Story)", max_length=MAX_SHORT_TEXT
    )
    type_vendor_id: str | None = Field(
        None,
        title="Type Vendor Id",
        description="Vendor issue type ID (e.g., Jira issue type ID). Alternative to type — at least one must "
        "be provided. Preferred over type when both are given.",
        max_length=MAX_SHORT_TEXT,
    )
    type_id: str | None = Field(
        None,
        title="Type Id",
        description="Deprecated: use type_vendor_id instead. Vendor issue type ID.",
        deprecated=True,
        max_length=MAX_SHORT_TEXT,
    )
    description: str | None = Field(
        None,
        title="Description",
        description="Description of the Ticket (Markdown; sent to Jira as ADF)",
        max_length=MAX_DESCRIPTION,
    )
    status: str | None = Field(
        None,
        title="Status",
        description="Status of the Ticket. Note: Jira does not support setting status at creation time — tickets "
        "are always created with the workflow's default status. ticketbridge then moves the ticket to this "
        "status through the workflow's transitions, and says in `warnings` when it could not.",
        max_length=MAX_SHORT_TEXT,
    )
    priority: str | None = Field(
        None, title="Priority", description="Priority of the Ticket", max_length=MAX_SHORT_TEXT
    )
    assigned_user_id: uuid.UUID | None = Field(
        None,
        title="Assigned User Id",
        description="Leen user UUID. Either assigned_user_id or assigned_user_vendor_id can be provided.",
    )
    assigned_user_vendor_id: str | None = Field(
        None,
        title="Assigned User Vendor Id",
        description="Vendor's user identifier (e.g., Jira accountId). Alternative to assigned_user_id.",
        max_length=MAX_SHORT_TEXT,
    )
    parent_ticket_id: uuid.UUID | None = Field(
        None, title="Parent Ticket Id", description="Parent Ticket ID (for sub-tasks)"
    )
    parent_ticket_vendor_id: str | None = Field(
        None,
        title="Parent Ticket Vendor Id",
        description="Vendor's ticket identifier (e.g., Jira issue key 'PROJ-123'). Alternative to parent_ticket_id.",
        max_length=MAX_SHORT_TEXT,
    )
    identifier: str | None = Field(
        None,
        title="Identifier",
        description="User-provided tracking identifier (auto-generated from project-type-hash if not provided). "
        "Unique per connection: repeating a request with the same identifier returns the ticket already made.",
        min_length=1,
        max_length=MAX_SHORT_TEXT,
    )
    custom_fields: dict[str, Any] | None = Field(
        None, title="Custom Fields", description=CUSTOM_FIELDS_DESCRIPTION, max_length=MAX_CUSTOM_FIELDS
    )

    _custom_text = field_validator("custom_fields", mode="before")(checked_custom_fields)


class ITSMTicketUpdateRequestModel(RequestModel):
    model_config = ConfigDict(title="ITSM Ticket Update Request")

    status: str | None = Field(None, title="Status", description="Status of the Ticket", max_length=MAX_SHORT_TEXT)
    priority: str | None = Field(
        None, title="Priority", description="Priority of the Ticket", max_length=MAX_SHORT_TEXT
    )
    assigned_user_id: uuid.UUID | None = Field(
        None, title="Assigned User Id", description="User ID assigned to the Ticket"
    )
    name: str | None = Field(
        None, title="Name", description="Name/Title of the Ticket", min_length=1, max_length=MAX_SHORT_TEXT
    )
    description: str | None = Field(
        None, title="Description", description="Description of the Ticket", max_length=MAX_DESCRIPTION
    )
    custom_fields: dict[str, Any] | None = Field(
        None,
        title="Custom Fields",
        description=CUSTOM_FIELDS_DESCRIPTION + " A null value clears the field (unless it is required); "
        "GET /v1/itsm/tickets/{ticket_id}/meta/update says what can be edited.",
        max_length=MAX_CUSTOM_FIELDS,
    )

    _custom_text = field_validator("custom_fields", mode="before")(checked_custom_fields)


class ITSMTicketBulkCreateRequestModel(RequestModel):
    model_config = ConfigDict(title="ITSM Ticket Bulk Create Request")

    tickets: list[ITSMTicketCreateRequestModel] = Field(
        title="Tickets", description="List of tickets to create (1-50 items)", min_length=1, max_length=50
    )


class ITSMTicketBulkUpdateRequestModel(RequestModel):
    model_config = ConfigDict(title="ITSM Ticket Bulk Update Request")

    ticket_ids: list[uuid.UUID] = Field(
        title="Ticket Ids",
        description="List of ticket IDs to update (1-50 items)",
        min_length=1,
        max_length=50,
    )
    updates: ITSMTicketUpdateRequestModel = Field(description="Fields to update (same for all tickets)")


class ITSMTicketVendorDataModel(BaseModel):
    model_config = ConfigDict(title="ITSM Ticket Vendor Data")

    vendor: str
    id: str
    statusCategory: str | None
    customFields: dict[str, Any]


class ITSMTicketVendorAttributesModel(BaseModel):
    model_config = ConfigDict(title="ITSM Ticket Vendor Attributes")

    id: str = Field(description="The vendor's ticket key (e.g. Jira 'PROJ-123')")
    vendor: str
    created_at: datetime | None
    updated_at: datetime | None
    type: str | None
    type_id: str | None
    status: str | None = Field(description="The vendor's own status name")
    priority: str | None = Field(description="The vendor's own priority name")
    data: ITSMTicketVendorDataModel


class ScopedITSMTicketRespModel(BaseModel):
    model_config = ConfigDict(title="ScopedITSMTicketRespModel")

    id: uuid.UUID = Field(description="Leen's UUID for the Ticket")
    name: str
    status: str = Field(description="Normalized: OPEN, TODO, IN_PROGRESS, IN_REVIEW, RESOLVED or CLOSED")
    vendor_attributes: ITSMTicketVendorAttributesModel
    active: bool | None
    type: str | None
    type_id: str | None
    parent_ticket_id: uuid.UUID | None
    description: str | None = Field(description="Markdown")
    ticket_created_at: datetime | None
    due_date: datetime | None
    closed_at: datetime | None
    assigned_user_id: uuid.UUID | None
    created_by_user_id: uuid.UUID | None
    status_updated_at: datetime | None
    project_id: uuid.UUID | None
    tags: list[str] | None
    priority: str | None = Field(description="Normalized: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNKNOWN")
    url: str | None
    identifier: str | None
    etag: str = Field(description="The ticket's version, as in the ETag header; send it back in If-Match")

    @classmethod
    def of(cls, ticket: TicketRead, etag: str) -> ScopedITSMTicketRespModel:
        return cls(**_fields(ticket, etag))


class ITSMTicketCreateRespModel(ScopedITSMTicketRespModel):
    """Response model for ticket creation. Extends ScopedITSMTicketRespModel with vendor ID fields that are
    echoed back when vendor IDs were provided in the request (rather than Leen UUIDs)."""

    model_config = ConfigDict(title="ITSMTicketCreateRespModel")

    parent_ticket_vendor_id: str | None
    assigned_user_vendor_id: str | None
    type_vendor_id: str | None
    warnings: list[str] = Field(
        default_factory=list, description="What could not be done in full, e.g. a status not reached"
    )

    @classmethod
    def of_created(cls, ticket: TicketRead, etag: str, warnings: tuple[str, ...]) -> ITSMTicketCreateRespModel:
        return cls(
            **_fields(ticket, etag),
            parent_ticket_vendor_id=ticket.parent_ticket_vendor_id,
            assigned_user_vendor_id=ticket.assigned_user_vendor_id,
            type_vendor_id=ticket.type_vendor_id,
            warnings=list(warnings),
        )


class ITSMFieldAllowedValueModel(BaseModel):
    model_config = ConfigDict(title="ITSM Field Allowed Value")

    id: str = Field(description="What to send (an option's id; its value is accepted too)")
    value: str


class ITSMFieldSchemaModel(BaseModel):
    model_config = ConfigDict(title="ITSM Field Schema")

    type: str = Field(description="The vendor's type of the field, e.g. Jira's 'option', 'array', 'string'")
    items: str | None = Field(description="The type of an array's items")
    custom: str | None = Field(description="The vendor's custom field type key")


class ITSMCustomFieldMetaModel(BaseModel):
    model_config = ConfigDict(title="ITSM Custom Field Metadata", populate_by_name=True)

    id: str = Field(description="The vendor's field id (Jira 'customfield_10054', a Rezolve field UUID)")
    name: str
    required: bool
    schema_: ITSMFieldSchemaModel = Field(alias="schema")
    allowed_values: list[ITSMFieldAllowedValueModel] | None = Field(
        description="The options the field takes; null when any value of its type is taken"
    )
    accepts: Accepts | None = Field(description="What to send for the field; null when it cannot be written")


class ITSMUnifiedFieldMetaModel(BaseModel):
    model_config = ConfigDict(title="ITSM Unified Field Metadata")

    name: str = Field(description="The request field: name, description, priority, assigned_user_id, ...")
    required: bool


class ITSMTransitionMetaModel(BaseModel):
    model_config = ConfigDict(title="ITSM Transition Metadata")

    to_status: str = Field(description="The vendor's status this transition leads to, as `status` takes it")
    to_status_vendor_id: str
    fields: list[ITSMUnifiedFieldMetaModel] = Field(
        description="The unified fields the transition takes; `required`: the update must give a value "
        "(the ticket holds none now)"
    )
    custom_fields: list[ITSMCustomFieldMetaModel] = Field(
        description="The custom fields the transition takes, `required` likewise"
    )


class ITSMTicketWriteMetaModel(BaseModel):
    model_config = ConfigDict(title="ITSM Ticket Write Metadata")

    fields: list[ITSMUnifiedFieldMetaModel] = Field(
        description="The unified fields the write can set, with whether the vendor requires each there"
    )
    custom_fields: list[ITSMCustomFieldMetaModel]
    transitions: list[ITSMTransitionMetaModel] = Field(
        description="Update metadata only: the statuses reachable in one transition from the ticket's "
        "status, with the fields each transition takes (its screen, or the fields it requires). A "
        "PATCH moving to one of them without a required field answers 422 `required_missing`; a bulk "
        "update fails that ticket with the same details and sends nothing for it"
    )

    @classmethod
    def of(cls, meta: WriteMetadata) -> ITSMTicketWriteMetaModel:
        return cls(
            fields=_unified_meta(meta.unified),
            custom_fields=_custom_meta(meta.custom_fields),
            transitions=[
                ITSMTransitionMetaModel(
                    to_status=t.to_status,
                    to_status_vendor_id=t.to_status_vendor_id,
                    fields=_unified_meta(t.unified),
                    custom_fields=_custom_meta(t.custom_fields),
                )
                for t in meta.transitions
            ],
        )


def _unified_meta(fields: Iterable[UnifiedField]) -> list[ITSMUnifiedFieldMetaModel]:
    return [ITSMUnifiedFieldMetaModel(name=f.name, required=f.required) for f in fields]


def _custom_meta(fields: Iterable[CustomField]) -> list[ITSMCustomFieldMetaModel]:
    return [
        ITSMCustomFieldMetaModel(
            id=f.id,
            name=f.name,
            required=f.required,
            schema_=ITSMFieldSchemaModel(
                type=f.vendor_schema.type, items=f.vendor_schema.items, custom=f.vendor_schema.custom
            ),
            allowed_values=None
            if f.allowed_values is None
            else [ITSMFieldAllowedValueModel(id=a.id, value=a.value) for a in f.allowed_values],
            accepts=f.accepts,
        )
        for f in fields
    ]


class ITSMTicketBulkSyncRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMTicketBulkSyncRespModel")

    total: int
    succeeded: int
    failed: int
    results: list[JobItemResultModel] = Field(description="In request order")


def _fields(ticket: TicketRead, etag: str) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "name": ticket.name,
        "status": ticket.status or "OPEN",
        "vendor_attributes": ITSMTicketVendorAttributesModel(
            id=ticket.vendor_key,
            vendor=ticket.vendor,
            created_at=ticket.ticket_created_at,
            updated_at=ticket.ticket_updated_at,
            type=ticket.type,
            type_id=ticket.type_vendor_id,
            status=ticket.vendor_status,
            priority=ticket.vendor_priority,
            data=ITSMTicketVendorDataModel(
                vendor=ticket.vendor,
                id=ticket.vendor_id,
                statusCategory=ticket.status_category,
                customFields=ticket.custom_fields,
            ),
        ),
        "active": ticket.active,
        "type": ticket.type,
        "type_id": ticket.type_vendor_id,
        "parent_ticket_id": ticket.parent_ticket_id,
        "description": ticket.description,
        "ticket_created_at": ticket.ticket_created_at,
        "due_date": ticket.due_date,
        "closed_at": ticket.closed_at,
        "assigned_user_id": ticket.assigned_user_id,
        "created_by_user_id": ticket.created_by_user_id,
        "status_updated_at": ticket.status_updated_at,
        "project_id": ticket.project_id,
        "tags": ticket.tags,
        "priority": ticket.priority,
        "url": ticket.url,
        "identifier": ticket.identifier,
        "etag": etag,
    }
