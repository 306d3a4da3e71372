"""Projects and users of a connection, as the store hands them to services."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
