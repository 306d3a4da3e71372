"""Translation between Jira's issue JSON and ticketbridge's vendor-neutral values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticketbridge.connectors.jira import fields as custom
from ticketbridge.connectors.jira.adf import adf_to_markdown, markdown_to_adf
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tickets import (
    CreateItem,
    TicketChanges,
    VendorIssueType,
    VendorProject,
    VendorTicket,
    VendorUser,
)
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus, StatusCategory

Json = dict[str, Any]

#: A new connection's status mapping (Leen's, for Jira's default workflows).
DEFAULT_STATUS_MAPPING = {
    "To Do": NormalizedStatus.TODO,
    "Open": NormalizedStatus.OPEN,
    "In Progress": NormalizedStatus.IN_PROGRESS,
    "In Review": NormalizedStatus.IN_REVIEW,
    "Resolved": NormalizedStatus.RESOLVED,
    "Done": NormalizedStatus.CLOSED,
    "Closed": NormalizedStatus.CLOSED,
}
#: A new connection's priority mapping (Jira's default priority scheme).
DEFAULT_PRIORITY_MAPPING = {
    "Highest": NormalizedPriority.CRITICAL,
    "High": NormalizedPriority.HIGH,
    "Medium": NormalizedPriority.MEDIUM,
    "Low": NormalizedPriority.LOW,
    "Lowest": NormalizedPriority.INFORMATIONAL,
}
#: Jira's status-category keys. "undefined" (No Category) and anything else maps to none.
STATUS_CATEGORIES = {
    "new": StatusCategory.TODO,
    "indeterminate": StatusCategory.IN_PROGRESS,
    "done": StatusCategory.DONE,
}

#: The fields a read asks for: everything a VendorTicket carries (`*navigable` brings the custom fields).
ISSUE_FIELDS = [
    "*navigable",
    "summary",
    "description",
    "status",
    "priority",
    "issuetype",
    "project",
    "assignee",
    "reporter",
    "parent",
    "labels",
    "created",
    "updated",
    "duedate",
    "resolutiondate",
]


def parse_jira_datetime(value: str | None) -> datetime | None:
    """Jira writes `2021-01-17T12:34:00.000+0000` (milliseconds, offset without a colon), which
    Python 3.11's `fromisoformat` reads (50 times faster than `strptime`: a sync parses two a ticket)."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def parse_jira_date(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)


def to_vendor_ticket(issue: Json, *, site_url: str) -> VendorTicket:
    fields: Json = issue.get("fields") or {}
    status = fields.get("status") or {}
    project = fields.get("project") or {}
    issue_type = fields.get("issuetype") or {}
    key = str(issue["key"])
    return VendorTicket(
        vendor_id=str(issue["id"]),
        key=key,
        project_vendor_id=project.get("key"),
        project_name=project.get("name"),
        type_name=issue_type.get("name"),
        type_vendor_id=issue_type.get("id"),
        status_name=status.get("name"),
        status_category=status_category(status),
        priority_name=(fields.get("priority") or {}).get("name"),
        assignee_vendor_id=(fields.get("assignee") or {}).get("accountId"),
        reporter_vendor_id=(fields.get("reporter") or {}).get("accountId"),
        parent_vendor_id=(fields.get("parent") or {}).get("key"),
        name=str(fields.get("summary") or ""),
        description=adf_to_markdown(fields.get("description")) if fields.get("description") else None,
        labels=tuple(fields.get("labels") or ()),
        url=f"{site_url}/browse/{key}",
        created_at=parse_jira_datetime(fields.get("created")),
        updated_at=parse_jira_datetime(fields.get("updated")),
        due_date=parse_jira_date(fields.get("duedate")),
        resolved_at=parse_jira_datetime(fields.get("resolutiondate")),
        custom_fields={
            name: custom.read_value(value)
            for name, value in fields.items()
            if name.startswith(custom.CUSTOM_PREFIX) and value is not None
        },
        version=version_of(issue),
    )


#: The version of an issue unchanged since its creation (Jira sets `updated` to `created` then). A
#: create's answer carries no dates, yet its ticket's version is known: this one, the same the read-back
#: gives, so the ETag a create answers stays valid for a conditional update until the issue changes.
UNCHANGED_SINCE_CREATED = "created"


def version_of(issue: Json) -> str:
    fields: Json = issue.get("fields") or {}
    updated = fields.get("updated")
    if updated is not None and updated == fields.get("created"):
        return UNCHANGED_SINCE_CREATED
    return str(updated or issue["id"])


def create_fields(item: CreateItem) -> Json:
    """The `fields` of one element of POST /issue/bulk. Status is not settable at create in Jira."""
    fields: Json = {
        "project": {"key": item.project_vendor_id},
        "summary": item.name,
        "issuetype": {"id": item.type_vendor_id} if item.type_vendor_id else {"name": item.type_name},
        "labels": [item.marker],
    }
    if item.description:
        fields["description"] = markdown_to_adf(item.description)
    if item.priority_name:
        fields["priority"] = {"name": item.priority_name}
    if item.assignee_vendor_id:
        fields["assignee"] = {"accountId": item.assignee_vendor_id}
    if item.parent_vendor_id:
        fields["parent"] = {"key": item.parent_vendor_id}
    fields.update(custom.wire_values({k: v for k, v in item.custom_fields.items() if v.value is not None}))
    return fields


def edit_body(changes: TicketChanges) -> Json:
    """PUT /issue body for every change but status (status moves through transitions)."""
    fields: Json = {}
    if changes.name is not None:
        fields["summary"] = changes.name
    if changes.description is not None:
        fields["description"] = markdown_to_adf(changes.description)
    elif "description" in changes.cleared:
        fields["description"] = None
    if changes.priority_name is not None:
        fields["priority"] = {"name": changes.priority_name}
    if changes.assignee_vendor_id is not None:
        fields["assignee"] = {"accountId": changes.assignee_vendor_id}
    elif "assignee_vendor_id" in changes.cleared:
        fields["assignee"] = None
    fields.update(custom.wire_values(changes.custom_fields))
    return {"fields": fields} if fields else {}


def bulk_edit_input(changes: TicketChanges, priority_id: str | None) -> tuple[list[str], Json]:
    """`selectedActions` and `editedFieldsInput` of POST /bulk/issues/fields: typed by field kind."""
    actions: list[str] = []
    fields: Json = {}
    if changes.name is not None:
        actions.append("summary")
        fields["singleLineTextFields"] = [{"fieldId": "summary", "text": changes.name}]
    if changes.description is not None or "description" in changes.cleared:
        actions.append("description")
        rich = {"adfValue": markdown_to_adf(changes.description)} if changes.description is not None else {}
        fields["richTextFields"] = [{"fieldId": "description", "richText": rich}]
    if priority_id is not None:
        actions.append("priority")
        fields["priority"] = {"priorityId": priority_id}
    if changes.assignee_vendor_id is not None or "assignee_vendor_id" in changes.cleared:
        actions.append("assignee")
        user = {"accountId": changes.assignee_vendor_id} if changes.assignee_vendor_id else None
        fields["singleSelectClearableUserPickerFields"] = [{"fieldId": "assignee", "user": user}]
    return actions, fields


def to_vendor_project(project: Json) -> VendorProject:
    return VendorProject(
        vendor_id=str(project["key"]),
        internal_id=str(project.get("id")) if project.get("id") is not None else None,
        name=str(project.get("name") or project["key"]),
        project_type=project.get("projectTypeKey"),
        issue_types=tuple(to_vendor_issue_type(t) for t in project["issueTypes"]) if "issueTypes" in project else None,
    )


def to_vendor_issue_type(issue_type: Json) -> VendorIssueType:
    return VendorIssueType(
        vendor_id=str(issue_type["id"]), name=str(issue_type["name"]), subtask=bool(issue_type.get("subtask"))
    )


def to_vendor_user(user: Json) -> VendorUser:
    return VendorUser(
        vendor_id=str(user["accountId"]),
        name=user.get("displayName"),
        email=user.get("emailAddress") or None,
        active=bool(user.get("active", True)),
        account_type=user.get("accountType"),
    )


def to_vendor_priority(priority: Json) -> VendorPriority:
    return VendorPriority(vendor_id=str(priority["id"]), name=str(priority["name"]))


def to_vendor_status(status: Json) -> VendorStatus:
    return VendorStatus(
        vendor_id=str(status["id"]),
        name=str(status["name"]),
        category=status_category(status),
    )


def status_category(status: Json) -> StatusCategory | None:
    """Ours, for a Jira status's `statusCategory.key`."""
    return STATUS_CATEGORIES.get(str((status.get("statusCategory") or {}).get("key")))
