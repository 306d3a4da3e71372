"""Validation of the `fields` and `update` of a create, edit or transition request, with Jira's messages.

`parse_changes` never touches the site: it returns the changes to apply, or the field errors Jira
would answer with, so a bulk create can validate every element before creating any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketbridge.sandboxes.jira.adf import NOT_ADF, is_adf
from ticketbridge.sandboxes.jira.state import SPRINT_FIELD_ID, CustomField, Issue, IssueType, Project, Site, User

RICH_TEXT = frozenset({"description", "environment"})
#: Fields holding a list of the project's components or versions, set as `[{"id"}|{"name"}]`.
PROJECT_LISTS = frozenset({"components", "fixVersions", "versions"})
SETTABLE = frozenset(
    {"summary", "issuetype", "project", "priority", "assignee", "reporter", "labels", "duedate", "parent"}
    | RICH_TEXT
    | PROJECT_LISTS
    | {SPRINT_FIELD_ID}
)
TEXT_MAX = 255
NOT_A_STRING = "Operation value must be a string"
NOT_A_NUMBER = "Operation value must be a number"
BAD_OPTION = "Could not find valid 'id' or 'value' in the Parent Option object."
BAD_DATETIME = "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."
SUMMARY_MAX = 255
LABEL_MAX = 255
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Marks "no value" in `Changes.values` (a field set to null), as opposed to a missing key.
CLEAR = None


def cannot_be_set(name: str) -> str:
    return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."


@dataclass
class Changes:
    """What a request changes: field values already resolved to ids, labels ops, new comments."""

    values: dict[str, Any] = field(default_factory=dict)
    labels_add: list[str] = field(default_factory=list)
    labels_remove: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    #: Custom field id -> stored value (None clears it).
    custom: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse_changes(
    site: Site,
    user: User,
    body: dict[str, Any],
    *,
    issue: Issue | None,
    allowed: frozenset[str] = SETTABLE,
) -> Changes:
    """Reads `fields` and `update`; `issue` is None for a create, which makes project and type required."""
    changes = Changes()
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        changes.errors["fields"] = "Field values must be given as an object."
        return changes
    for name in set(fields) & set(update):
        changes.errors[name] = f"Field '{name}' cannot be set in both 'fields' and 'update'."
    raw: dict[str, Any] = dict(fields)
    for name, operations in update.items():
        _read_operations(name, operations, raw, changes)
    project = _resolve_project(site, user, raw, issue, changes)
    issue_type = _resolve_issue_type(site, project, raw, issue, changes)
    for name, value in raw.items():
        if name in {"project", "issuetype"} or name in changes.errors:
            continue
        custom_field = site.custom_fields.get(name) if name != SPRINT_FIELD_ID else None
        if custom_field is not None and allowed is SETTABLE:
            if project is None or custom_field.applies_to(project.id):
                read_custom(site, custom_field, value, changes)
            else:
                changes.errors[name] = cannot_be_set(name)
            continue
        if name not in allowed:
            changes.errors[name] = cannot_be_set(name)
            continue
        _read_field(site, project, name, value, changes)
    if project is not None and issue_type is not None:
        _check_required(site, project, issue_type, issue, changes)
    if issue is None:
        if not isinstance(raw.get("summary"), str) or not raw["summary"].strip():
            changes.errors.setdefault("summary", "You must specify a summary of the issue.")
        if issue_type is not None and issue_type.subtask and "parent" not in changes.values:
            changes.errors.setdefault("parent", "Sub-task parent is required.")
    if issue_type is not None and "parent" in changes.values:
        _check_parent(site, issue_type, issue, changes)
    return changes


def _check_parent(site: Site, issue_type: IssueType, issue: Issue | None, changes: Changes) -> None:
    """The parent one level up the hierarchy, as Jira requires on create and edit: a sub-task's is a
    standard issue, a standard issue's an epic; `null` removes a standard issue's parent."""
    parent_id = changes.values["parent"]
    if parent_id is None:
        if issue_type.subtask:
            changes.errors["parent"] = "Sub-task parent is required."
        return
    parent = site.issues[parent_id]
    level = site.issue_types[parent.issuetype_id].hierarchy_level
    if (issue is not None and parent.id == issue.id) or level != issue_type.hierarchy_level + 1:
        changes.errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."


def _read_operations(name: str, operations: Any, raw: dict[str, Any], changes: Changes) -> None:
    if not isinstance(operations, list):
        changes.errors[name] = f"Operations on field '{name}' must be a list."
        return
    for operation in operations:
        if not isinstance(operation, dict) or len(operation) != 1:
            changes.errors[name] = f"Each operation on field '{name}' must have exactly one verb."
            return
        ((verb, value),) = operation.items()
        if name == "labels" and verb in {"add", "remove"} and isinstance(value, str):
            (changes.labels_add if verb == "add" else changes.labels_remove).append(value)
        elif name == "comment" and verb == "add" and isinstance(value, dict):
            if is_adf(value.get("body")):
                changes.comments.append(value["body"])
            else:
                changes.errors["comment"] = NOT_ADF
        elif verb == "set":
            raw[name] = value
        else:
            changes.errors[name] = f"Field '{name}' does not support operation '{verb}'."


def _resolve_project(
    site: Site, user: User, raw: dict[str, Any], issue: Issue | None, changes: Changes
) -> Project | None:
    if issue is not None:
        if "project" in raw:
            changes.errors["project"] = cannot_be_set("project")
        return site.projects[issue.project_id]
    ref = raw.get("project")
    ident = _ref(ref, "id", "key")
    project = site.project(ident) if ident else None
    if project is None or not project.is_visible_to(user.account_id):
        # Jira does not reveal projects the caller cannot browse.
        changes.errors["project"] = "Specify a valid project ID or key" if ref else "project is required"
        return None
    changes.values["project"] = project.id
    return project


def _resolve_issue_type(
    site: Site, project: Project | None, raw: dict[str, Any], issue: Issue | None, changes: Changes
) -> IssueType | None:
    ref = raw.get("issuetype")
    if ref is None:
        if issue is None:
            changes.errors["issuetype"] = "Specify an issue type"
            return None
        return site.issue_types[issue.issuetype_id]
    if project is None:
        return None  # the project error says it all; types are per project
    ident = _ref(ref, "id", "name")
    candidates = [site.issue_types[t] for t in project.issuetype_ids]
    found = next((t for t in candidates if ident in (t.id, t.name)), None)
    current = site.issue_types[issue.issuetype_id] if issue else None
    if found is None or (current is not None and found.subtask != current.subtask):
        changes.errors["issuetype"] = "The issue type selected is invalid."
        return None
    changes.values["issuetype"] = found.id
    return found


def _read_field(site: Site, project: Project | None, name: str, value: Any, changes: Changes) -> None:
    match name:
        case "summary":
            if not isinstance(value, str) or not value.strip():
                changes.errors[name] = "You must specify a summary of the issue."
            elif len(value) > SUMMARY_MAX:
                changes.errors[name] = "Summary must be less than 255 characters."
            elif "\n" in value:
                changes.errors[name] = "The summary is invalid because it contains newline characters."
            else:
                changes.values[name] = value
        case "description" | "environment":
            if value is CLEAR or is_adf(value):
                changes.values[name] = value
            else:
                changes.errors[name] = NOT_ADF
        case "priority":
            ident = _ref(value, "id", "name")
            priority = next((p for p in site.priorities.values() if ident in (p.id, p.name)), None)
            if priority is None:
                changes.errors[name] = "Specify a valid value for priority"
            else:
                changes.values[name] = priority.id
        case "assignee" | "reporter":
            _read_user(site, project, name, value, changes)
        case "labels":
            _read_labels(value, changes)
        case "duedate":
            if value is CLEAR or (isinstance(value, str) and DATE.fullmatch(value)):
                changes.values[name] = value
            else:
                changes.errors[name] = f"Error parsing date string: {value}"
        case "parent":
            _read_parent(site, project, value, changes)
        case "components" | "fixVersions" | "versions":
            _read_project_list(site, project, name, value, changes)
        case "resolution":
            ident = _ref(value, "id", "name")
            resolution = next((r for r in site.resolutions.values() if ident in (r.id, r.name)), None)
            if resolution is None:
                changes.errors[name] = "Specify a valid value for resolution"
            else:
                changes.values[name] = resolution.id
        case "customfield_10020":  # Sprint: a sprint id, or null
            if value is CLEAR:
                changes.values["sprint"] = ()
            elif isinstance(value, int) and not isinstance(value, bool) and value in site.sprints:
                changes.values["sprint"] = (value,)
            else:
                changes.errors[name] = f"Sprint with id '{value}' does not exist."


def _read_project_list(site: Site, project: Project | None, name: str, value: Any, changes: Changes) -> None:
    if not isinstance(value, list):
        changes.errors[name] = f"Field '{name}' must be given as an array."
        return
    table: dict[str, Any] = site.components if name == "components" else site.versions
    kind = "Component" if name == "components" else "Version"
    ids: list[str] = []
    for item in value:
        ident = _ref(item, "id", "name")
        found = next(
            (
                o
                for o in table.values()
                if ident in (o.id, o.name) and project is not None and o.project_id == project.id
            ),
            None,
        )
        if found is None:
            shown = ident if ident is not None else item
            changes.errors[name] = (
                f"{kind} name '{shown}' is not valid"
                if _ref(item, "name") and not _ref(item, "id")
                else f"{kind} id '{shown}' is not valid"
            )
            return
        ids.append(found.id)
    changes.values[name] = tuple(dict.fromkeys(ids))


def read_custom(site: Site, custom_field: CustomField, value: Any, changes: Changes) -> None:
    """Validates one custom field's value with Jira's messages; stores it in its stored form."""
    name = custom_field.id
    if value is CLEAR:
        changes.custom[name] = None
        return
    match custom_field.type:
        case "text":
            if not isinstance(value, str):
                changes.errors[name] = NOT_A_STRING
            elif len(value) > TEXT_MAX:
                changes.errors[name] = "The entered text is too long. It exceeds the allowed limit of 255 characters."
            else:
                changes.custom[name] = value
        case "textarea":
            if is_adf(value):
                changes.custom[name] = value
            else:
                changes.errors[name] = NOT_ADF
        case "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                changes.custom[name] = float(value)
            else:
                changes.errors[name] = NOT_A_NUMBER
        case "select":
            option = _option(custom_field, value, changes)
            if option is not None:
                changes.custom[name] = option
        case "multiselect":
            if not isinstance(value, list):
                changes.errors[name] = BAD_OPTION
                return
            chosen = [_option(custom_field, item, changes) for item in value]
            if name not in changes.errors:
                changes.custom[name] = tuple(dict.fromkeys(o for o in chosen if o is not None))
        case "user":
            user = site.users.get(_ref(value, "accountId") or "")
            if user is None:
                changes.errors[name] = "Specified user does not exist or you do not have required permissions"
            else:
                changes.custom[name] = user.account_id
        case "date":
            if isinstance(value, str) and DATE.fullmatch(value):
                changes.custom[name] = value
            else:
                changes.errors[name] = f"Error parsing date string: {value}"
        case "datetime":
            try:
                moment = datetime.fromisoformat(value.replace("+0000", "+00:00")) if isinstance(value, str) else None
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                changes.errors[name] = BAD_DATETIME
            else:
                changes.custom[name] = moment.isoformat()
        case "labels":
            probe = Changes()
            _read_labels(value, probe)
            if probe.errors:
                changes.errors[name] = probe.errors["labels"]
            else:
                changes.custom[name] = probe.values["labels"]


def _option(custom_field: CustomField, value: Any, changes: Changes) -> str | None:
    name = custom_field.id
    ident, by_value = _ref(value, "id"), _ref(value, "value")
    if ident is None and by_value is None:
        changes.errors[name] = BAD_OPTION
        return None
    option = next(
        (o for o in custom_field.options if (o.id == ident if ident is not None else o.value == by_value)), None
    )
    if option is None or option.disabled:
        changes.errors[name] = (
            f"Option id '{ident}' is not valid" if ident is not None else f"Option value '{by_value}' is not valid"
        )
        return None
    return option.id


def _check_required(site: Site, project: Project, issue_type: IssueType, issue: Issue | None, changes: Changes) -> None:
    """A required custom field must be given on create and cannot be cleared on edit: "<Name> is required."."""
    for custom_field in site.custom_fields.values():
        if not custom_field.applies_to(project.id) or not custom_field.is_required(project.id, issue_type.id):
            continue
        name = custom_field.id
        if name in changes.errors:
            continue
        given = name in changes.custom
        if (issue is None and (not given or changes.custom[name] is None)) or (given and changes.custom[name] is None):
            changes.errors[name] = f"{custom_field.name} is required."


def _read_user(site: Site, project: Project | None, name: str, value: Any, changes: Changes) -> None:
    if value is CLEAR:
        changes.values[name] = CLEAR
        return
    account_id = _ref(value, "accountId")
    user = site.users.get(account_id or "")
    if user is None or (project is not None and not project.is_visible_to(user.account_id)):
        changes.errors[name] = "Specified user does not exist or you do not have required permissions"
    else:
        changes.values[name] = user.account_id


def _read_labels(value: Any, changes: Changes) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        changes.errors["labels"] = "Labels must be given as an array of strings."
        return
    for label in value:
        if not label or " " in label:
            changes.errors["labels"] = f"The label '{label}' contains spaces which is invalid."
            return
        if len(label) > LABEL_MAX:
            changes.errors["labels"] = "The label must not exceed 255 characters."
            return
    changes.values["labels"] = tuple(dict.fromkeys(value))


def _read_parent(site: Site, project: Project | None, value: Any, changes: Changes) -> None:
    if value is None:
        changes.values["parent"] = None
        return
    parent = site.issue(_ref(value, "id", "key") or "")
    if parent is None or project is None or parent.project_id != project.id:
        changes.errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
    elif site.issue_types[parent.issuetype_id].subtask:
        changes.errors["parent"] = "Sub-tasks cannot have sub-tasks."
    else:
        changes.values["parent"] = parent.id


def _ref(value: Any, *keys: str) -> str | None:
    """The identifier in a `{"id": ...}`-style reference; numbers are accepted as strings."""
    if not isinstance(value, dict):
        return None
    for key in keys:
        found = value.get(key)
        if isinstance(found, str | int) and not isinstance(found, bool):
            return str(found)
    return None
