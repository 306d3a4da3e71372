"""Projects and users of a connection, as the store hands them to services; priorities and statuses,
as connectors list them for the sync."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ticketbridge.domain.tickets import VendorValue
from ticketbridge.domain.vocabulary import StatusCategory


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class ProjectRead(Frozen):
    id: uuid.UUID
    connection_id: uuid.UUID
    vendor_id: str
    internal_id: str | None
    name: str
    project_type: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class UserRead(Frozen):
    id: uuid.UUID
    connection_id: uuid.UUID
    vendor_id: str
    name: str | None
    email: str | None
    status: str
    account_type: str | None
    created_at: datetime
    updated_at: datetime


class VendorPriority(VendorValue):
    vendor_id: str  #: the vendor's priority id or option value
    name: str


class VendorStatus(VendorValue):
    vendor_id: str  #: the vendor's status id or key
    name: str
    #: Ours (None when the vendor gives none): the connector maps its vendor's categories.
    category: StatusCategory | None
