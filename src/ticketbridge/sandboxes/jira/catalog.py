"""The site's field catalog: what `/field` lists, what createmeta and editmeta offer, and the `names`
and `schema` expansions of an issue.

System fields are fixed; custom fields come from the site (`Site.custom_fields`, seeded at run time)
and are offered only in the projects of their contexts. The Sprint field (`customfield_10020`) is
listed once the site has sprints.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ticketbridge.sandboxes.jira.issues import DEFAULT_PRIORITY_ID
from ticketbridge.sandboxes.jira.render import (
    API,
    component_json,
    issue_json,
    option_json,
    priority_json,
    version_json,
)
from ticketbridge.sandboxes.jira.state import (
    CUSTOM_FIELD_TYPES,
    SPRINT_FIELD_ID,
    CustomField,
    Issue,
    IssueType,
    Project,
    Site,
)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    id: str
    name: str
    schema_type: str
    items: str | None = None
    operations: tuple[str, ...] = ("set",)
    #: Whether createmeta offers it on the create screen.
    on_create: bool = True
    #: Whether editmeta offers it (the edit screen).
    on_edit: bool = True
    #: Jira's schema `custom` key and `customId`, for custom fields.
    custom: str | None = None
    custom_id: int | None = None
    clause_names: tuple[str, ...] = ()


FIELDS = (
    FieldInfo("summary", "Summary", "string"),
    FieldInfo("issuetype", "Issue Type", "issuetype"),
    FieldInfo("project", "Project", "project", on_edit=False),
    FieldInfo("description", "Description", "string"),
    FieldInfo("environment", "Environment", "string"),
    FieldInfo("priority", "Priority", "priority"),
    FieldInfo("assignee", "Assignee", "user"),
    FieldInfo("reporter", "Reporter", "user"),
    FieldInfo("labels", "Labels", "array", "string", ("add", "set", "remove")),
    FieldInfo("duedate", "Due date", "date"),
    FieldInfo("parent", "Parent", "issuelink"),
    FieldInfo("components", "Components", "array", "component"),
    FieldInfo("fixVersions", "Fix versions", "array", "version"),
    FieldInfo("versions", "Affects versions", "array", "version"),
    FieldInfo("resolution", "Resolution", "resolution", on_create=False, on_edit=False),
    FieldInfo("resolutiondate", "Resolved", "datetime", on_create=False, on_edit=False),
    FieldInfo("status", "Status", "status", on_create=False, on_edit=False),
    FieldInfo("created", "Created", "datetime", on_create=False, on_edit=False),
    FieldInfo("updated", "Updated", "datetime", on_create=False, on_edit=False),
    FieldInfo("creator", "Creator", "user", on_create=False, on_edit=False),
    FieldInfo("statuscategorychangedate", "Status Category Changed", "datetime", on_create=False, on_edit=False),
    FieldInfo("subtasks", "Sub-tasks", "array", "issuelinks", on_create=False, on_edit=False),
    FieldInfo("issuelinks", "Linked Issues", "array", "issuelinks", ("add", "copy"), on_create=False),
    FieldInfo("watches", "Watchers", "watches", on_create=False, on_edit=False),
    FieldInfo("attachment", "Attachment", "array", "attachment", on_create=False, on_edit=False),
    FieldInfo("worklog", "Log Work", "array", "worklog", ("add",), on_create=False, on_edit=False),
    FieldInfo("comment", "Comment", "comments-page", operations=("add", "edit", "remove"), on_create=False),
)
_SCHEMA_TYPES = {
    "text": ("string", None),
    "textarea": ("string", None),
    "number": ("number", None),
    "select": ("option", None),
    "multiselect": ("array", "option"),
    "user": ("user", None),
    "date": ("date", None),
    "datetime": ("datetime", None),
    "labels": ("array", "string"),
    "sprint": ("array", "json"),
}


def custom_info(custom_field: CustomField) -> FieldInfo:
    schema_type, items = _SCHEMA_TYPES[custom_field.type]
    operations = ("set",)
    return FieldInfo(
        custom_field.id,
        custom_field.name,
        schema_type,
        items,
        operations,
        custom=CUSTOM_FIELD_TYPES[custom_field.type],
        custom_id=custom_field.number,
        clause_names=(f"cf[{custom_field.number}]", custom_field.name),
    )


SPRINT = FieldInfo(
    SPRINT_FIELD_ID,
    "Sprint",
    "array",
    "json",
    custom=CUSTOM_FIELD_TYPES["sprint"],
    custom_id=10020,
    clause_names=("cf[10020]", "Sprint", "sprint"),
)


def all_fields(site: Site, project: Project | None = None) -> list[FieldInfo]:
    """System fields, then the custom fields (of `project`'s contexts when given)."""
    custom = [custom_info(f) for f in site.custom_fields.values() if project is None or f.applies_to(project.id)]
    return [*FIELDS, *custom, *((SPRINT,) if site.sprints else ())]


def _info(site: Site, field_id: str) -> FieldInfo | None:
    if field_id in site.custom_fields:
        return custom_info(site.custom_fields[field_id])
    if field_id == SPRINT_FIELD_ID:
        return SPRINT
    return next((f for f in FIELDS if f.id == field_id), None)


def schema_json(info: FieldInfo) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": info.schema_type}
    if info.items:
        schema["items"] = info.items
    if info.custom is not None:
        schema["custom"] = info.custom
        schema["customId"] = info.custom_id
    else:
        schema["system"] = info.id
    return schema


def field_json(info: FieldInfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "key": info.id,
        "name": info.name,
        "custom": info.custom is not None,
        "orderable": info.on_create,
        "navigable": True,
        "searchable": True,
        "clauseNames": list(info.clause_names or (info.id,)),
        "schema": schema_json(info),
    }
    if info.custom_id is not None:
        body["untranslatedName"] = info.name
    return body


def _meta(site: Site, base: str, info: FieldInfo, project: Project | None, required: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "fieldId": info.id,
        "key": info.id,
        "name": info.name,
        "required": required,
        "schema": schema_json(info),
        "operations": list(info.operations),
        "hasDefaultValue": False,
    }
    if info.id == "priority":
        meta["allowedValues"] = [priority_json(base, p) for p in site.priorities.values()]
        default = site.priorities.get(DEFAULT_PRIORITY_ID)
        meta["hasDefaultValue"] = default is not None
        if default is not None:
            meta["defaultValue"] = priority_json(base, default)
    elif info.id == "components" and project is not None:
        meta["allowedValues"] = [
            component_json(base, site, c.id) for c in site.components.values() if c.project_id == project.id
        ]
    elif info.id in ("fixVersions", "versions") and project is not None:
        meta["allowedValues"] = [
            version_json(base, site, v.id) for v in site.versions.values() if v.project_id == project.id
        ]
    elif info.id in site.custom_fields and site.custom_fields[info.id].type in ("select", "multiselect"):
        custom_field = site.custom_fields[info.id]
        meta["allowedValues"] = [option_json(base, custom_field, o.id) for o in custom_field.options if not o.disabled]
    elif info.id in ("assignee", "reporter") or info.schema_type == "user":
        meta["autoCompleteUrl"] = f"{base}{API}/user/search?query="
    return meta


def create_fields(site: Site, base: str, issue_type: IssueType, project: Project | None = None) -> list[dict[str, Any]]:
    """FieldCreateMetadata of the create screen; `parent` is required for sub-tasks only, custom
    fields where the site's configuration requires them (`project`'s contexts when given)."""
    required = {"summary", "issuetype", "project"} | ({"parent"} if issue_type.subtask else set())
    result = []
    for info in all_fields(site, project):
        if not info.on_create:
            continue
        custom_field = site.custom_fields.get(info.id)
        is_required = info.id in required or (
            custom_field is not None and project is not None and custom_field.is_required(project.id, issue_type.id)
        )
        result.append(_meta(site, base, info, project, is_required))
    return result


def edit_fields(site: Site, base: str, issue: Issue) -> dict[str, Any]:
    """IssueUpdateMetadata: the edit screen's fields with their operations and allowed values."""
    project = site.projects[issue.project_id]
    fields = {}
    for info in all_fields(site, project):
        if not info.on_edit:
            continue
        custom_field = site.custom_fields.get(info.id)
        required = info.id in ("summary", "issuetype") or (
            custom_field is not None and custom_field.is_required(project.id, issue.issuetype_id)
        )
        meta = _meta(site, base, info, project, required)
        del meta["fieldId"]
        fields[info.id] = meta
    return {"fields": fields}


def names_json(site: Site, field_ids: Collection[str]) -> dict[str, str]:
    return {f: info.name for f in field_ids if (info := _info(site, f)) is not None}


def schemas_json(site: Site, field_ids: Collection[str]) -> dict[str, Any]:
    return {f: schema_json(info) for f in field_ids if (info := _info(site, f)) is not None}


def issue_view(
    base: str,
    site: Site,
    issue: Issue,
    fields: set[str],
    expand: Collection[str] = (),
    viewer: str | None = None,
) -> dict[str, Any]:
    """`render.issue_json` plus the expansions that need the catalog: names, schema and editmeta."""
    body = issue_json(base, site, issue, fields, expand, viewer)
    shown = list(body.get("fields") or body.get("versionedRepresentations") or ())
    if "names" in expand:
        body["names"] = names_json(site, shown)
    if "schema" in expand:
        body["schema"] = schemas_json(site, shown)
    if "editmeta" in expand:
        body["editmeta"] = edit_fields(site, base, issue)
    return body


__all__ = ["FIELDS", "all_fields", "create_fields", "edit_fields", "field_json", "issue_view"]
