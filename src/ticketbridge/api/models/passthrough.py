"""Passthrough responses: vendor data in real time, with the vendor ids a create request accepts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.domain.tickets import VendorIssueType, VendorProject, VendorTicket, VendorUser


class PassthroughIssueTypeModel(BaseModel):
    model_config = ConfigDict(title="PassthroughIssueTypeModel")

    vendor_id: str = Field(description="Use as type_vendor_id when creating a ticket")
    name: str
    subtask: bool

    @classmethod
    def of(cls, issue_type: VendorIssueType) -> PassthroughIssueTypeModel:
        return cls(vendor_id=issue_type.vendor_id, name=issue_type.name, subtask=issue_type.subtask)


class PassthroughProjectModel(BaseModel):
    model_config = ConfigDict(title="PassthroughProjectModel")

    vendor_id: str = Field(description="Use as project_vendor_id (Jira project key, Rezolve team id)")
    name: str
    project_type: str | None
    issue_types: list[PassthroughIssueTypeModel] | None = Field(
        description="With include_issue_types=true, where the vendor has them per project"
    )

    @classmethod
    def of(cls, project: VendorProject) -> PassthroughProjectModel:
        return cls(
            vendor_id=project.vendor_id,
            name=project.name,
            project_type=project.project_type,
            issue_types=None
            if project.issue_types is None
            else [PassthroughIssueTypeModel.of(t) for t in project.issue_types],
        )


class PassthroughProjectListModel(BaseModel):
    model_config = ConfigDict(title="PassthroughProjectListModel")

    items: list[PassthroughProjectModel]
    total: int | None
    limit: int
    offset: int


class PassthroughIssueTypeListModel(BaseModel):
    model_config = ConfigDict(title="PassthroughIssueTypeListModel")

    items: list[PassthroughIssueTypeModel]
    total: int


class PassthroughUserModel(BaseModel):
    model_config = ConfigDict(title="PassthroughUserModel")

    vendor_id: str = Field(description="Use as assigned_user_vendor_id (Jira accountId)")
    name: str | None
    email: str | None
    active: bool
    account_type: str | None

    @classmethod
    def of(cls, user: VendorUser) -> PassthroughUserModel:
        return cls(
            vendor_id=user.vendor_id,
            name=user.name,
            email=user.email,
            active=user.active,
            account_type=user.account_type,
        )


class PassthroughUserListModel(BaseModel):
    model_config = ConfigDict(title="PassthroughUserListModel")

    items: list[PassthroughUserModel]
    total: int | None = Field(description="Null: the vendors do not say how many users match")


class PassthroughTicketModel(BaseModel):
    model_config = ConfigDict(title="PassthroughTicketModel")

    vendor_id: str = Field(description="The vendor's stable id")
    key: str = Field(description="The vendor's display key (Jira 'PROJ-42'): use as parent_ticket_vendor_id")
    name: str
    status: str | None = Field(description="The vendor's status name")
    status_category: str | None
    priority: str | None = Field(description="The vendor's priority name")
    type: str | None
    type_vendor_id: str | None
    project_vendor_id: str | None
    assigned_user_vendor_id: str | None
    created_by_vendor_id: str | None
    parent_ticket_vendor_id: str | None
    labels: list[str]
    description: str | None = Field(description="Markdown")
    url: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, ticket: VendorTicket) -> PassthroughTicketModel:
        return cls(
            vendor_id=ticket.vendor_id,
            key=ticket.key,
            name=ticket.name,
            status=ticket.status_name,
            status_category=ticket.status_category,
            priority=ticket.priority_name,
            type=ticket.type_name,
            type_vendor_id=ticket.type_vendor_id,
            project_vendor_id=ticket.project_vendor_id,
            assigned_user_vendor_id=ticket.assignee_vendor_id,
            created_by_vendor_id=ticket.reporter_vendor_id,
            parent_ticket_vendor_id=ticket.parent_vendor_id,
            labels=list(ticket.labels),
            description=ticket.description,
            url=ticket.url,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
        )


class PassthroughTicketSearchRespModel(BaseModel):
    model_config = ConfigDict(title="PassthroughTicketSearchRespModel")

    items: list[PassthroughTicketModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
