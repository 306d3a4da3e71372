"""Validation of the `fields` and `update` of a create, edit or transition request, with Jira's messages.

`parse_changes` never touches the site: it returns the changes to apply, or the field errors Jira
would answer with, so a bulk create can validate every element before creating any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ticketbridge.sandboxes.jira.adf import NOT_ADF, is_adf
from ticketbridge.sandboxes.jira.state import Issue, IssueType, Project, Site, User

RICH_TEXT = frozenset({"description", "environment"})
SETTABLE = frozenset(
    {"summary", "issuetype", "project", "priority", "assignee", "reporter", "labels", "duedate", "parent"} | RICH_TEXT
)
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
        # Moving an issue under another parent is a separate Jira operation, not an edit.
        if name not in allowed or (issue is not None and name == "parent"):
            changes.errors[name] = cannot_be_set(name)
            continue
        _read_field(site, project, name, value, changes)
    if issue is None:
        if not isinstance(raw.get("summary"), str) or not raw["summary"].strip():
            changes.errors.setdefault("summary", "You must specify a summary of the issue.")
        if issue_type is not None and issue_type.subtask and "parent" not in changes.values:
            changes.errors.setdefault("parent", "Sub-task parent is required.")
        if issue_type is not None and not issue_type.subtask and changes.values.get("parent") is not None:
            parent = site.issues[changes.values["parent"]]
            if site.issue_types[parent.issuetype_id].hierarchy_level != 1:
                changes.errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
    return changes


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
