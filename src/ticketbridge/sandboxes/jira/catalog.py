"""The site's field catalog: what `/field` lists and what createmeta offers per issue type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketbridge.sandboxes.jira.issues import DEFAULT_PRIORITY_ID
from ticketbridge.sandboxes.jira.render import priority_json
from ticketbridge.sandboxes.jira.state import IssueType, Site


@dataclass(frozen=True, slots=True)
class FieldInfo:
    id: str
    name: str
    schema_type: str
    items: str | None = None
    operations: tuple[str, ...] = ("set",)
    #: Whether createmeta offers it on the create screen.
    on_create: bool = True


FIELDS = (
    FieldInfo("summary", "Summary", "string"),
    FieldInfo("issuetype", "Issue Type", "issuetype"),
    FieldInfo("project", "Project", "project"),
    FieldInfo("description", "Description", "string"),
    FieldInfo("environment", "Environment", "string"),
    FieldInfo("priority", "Priority", "priority"),
    FieldInfo("assignee", "Assignee", "user"),
    FieldInfo("reporter", "Reporter", "user"),
    FieldInfo("labels", "Labels", "array", "string", ("add", "set", "remove")),
    FieldInfo("duedate", "Due date", "date"),
    FieldInfo("parent", "Parent", "issuelink"),
    FieldInfo("status", "Status", "status", on_create=False),
    FieldInfo("created", "Created", "datetime", on_create=False),
    FieldInfo("updated", "Updated", "datetime", on_create=False),
    FieldInfo("comment", "Comment", "comments-page", operations=("add", "edit", "remove"), on_create=False),
)


def field_json(info: FieldInfo) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": info.schema_type, "system": info.id}
    if info.items:
        schema["items"] = info.items
    return {
        "id": info.id,
        "key": info.id,
        "name": info.name,
        "custom": False,
        "orderable": info.on_create,
        "navigable": True,
        "searchable": True,
        "clauseNames": [info.id],
        "schema": schema,
    }


def create_fields(site: Site, base: str, issue_type: IssueType) -> list[dict[str, Any]]:
    """FieldCreateMetadata of the create screen; `parent` is required for sub-tasks only."""
    required = {"summary", "issuetype", "project"} | ({"parent"} if issue_type.subtask else set())
    result = []
    for info in FIELDS:
        if not info.on_create:
            continue
        body = field_json(info)
        meta: dict[str, Any] = {
            "fieldId": info.id,
            "key": info.id,
            "name": info.name,
            "required": info.id in required,
            "schema": body["schema"],
            "operations": list(info.operations),
            "hasDefaultValue": False,
        }
        if info.id == "priority":
            meta["allowedValues"] = [priority_json(base, p) for p in site.priorities.values()]
            default = site.priorities.get(DEFAULT_PRIORITY_ID)
            meta["hasDefaultValue"] = default is not None
            if default is not None:
                meta["defaultValue"] = priority_json(base, default)
        result.append(meta)
    return result
