"""List responses of synced data: `{items, next_cursor, previous_cursor}`, as Leen's lists answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.api.models.tickets import ScopedITSMTicketRespModel
from ticketbridge.domain.directory import ProjectRead, UserRead

NEXT = "Pass as `cursor` for the next page; null on the last page"
PREVIOUS = "Pass as `cursor` for the page before; null on the first page"


class ITSMTicketListRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMTicketListRespModel")

    items: list[ScopedITSMTicketRespModel]
    next_cursor: str | None = Field(description=NEXT)
    previous_cursor: str | None = Field(description=PREVIOUS)


class ITSMVendorAttributesModel(BaseModel):
    model_config = ConfigDict(title="ITSM Vendor Attributes")

    id: str = Field(description="The vendor's id (Jira project key or accountId, Rezolve team or user id)")
    vendor: str
    data: dict[str, Any] = Field(default_factory=dict, description="Vendor-specific extras")


class ITSMProjectRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMProjectRespModel")

    id: uuid.UUID = Field(description="ticketbridge's UUID: use it as project_id")
    name: str
    project_type: str | None
    active: bool
    vendor_attributes: ITSMVendorAttributesModel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: ProjectRead, vendor: str) -> ITSMProjectRespModel:
        return cls(
            id=project.id,
            name=project.name,
            project_type=project.project_type,
            active=project.active,
            vendor_attributes=ITSMVendorAttributesModel(
                id=project.vendor_id, vendor=vendor, data={"internalId": project.internal_id}
            ),
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


class ITSMUserRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMUserRespModel")

    id: uuid.UUID = Field(description="ticketbridge's UUID: use it as assigned_user_id")
    name: str | None
    email: str | None
    status: str = Field(description="ACTIVE, INACTIVE or DELETED")
    vendor_attributes: ITSMVendorAttributesModel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: UserRead, vendor: str) -> ITSMUserRespModel:
        return cls(
            id=user.id,
            name=user.name,
            email=user.email,
            status=user.status,
            vendor_attributes=ITSMVendorAttributesModel(
                id=user.vendor_id, vendor=vendor, data={"accountType": user.account_type}
            ),
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class ITSMProjectListRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMProjectListRespModel")

    items: list[ITSMProjectRespModel]
    next_cursor: str | None = Field(description=NEXT)
    previous_cursor: str | None = Field(description=PREVIOUS)


class ITSMUserListRespModel(BaseModel):
    model_config = ConfigDict(title="ITSMUserListRespModel")

    items: list[ITSMUserRespModel]
    next_cursor: str | None = Field(description=NEXT)
    previous_cursor: str | None = Field(description=PREVIOUS)
