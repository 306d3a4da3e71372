"""The bulk transition and bulk edit operations: request validation and the per-issue work of a task."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ticketbridge.sandboxes.jira.adf import is_adf
from ticketbridge.sandboxes.jira.bulk_tasks import Operation
from ticketbridge.sandboxes.jira.errors import BulkOperationError
from ticketbridge.sandboxes.jira.fields import Changes
from ticketbridge.sandboxes.jira.issues import apply_changes, begin_write, move_to_status
from ticketbridge.sandboxes.jira.state import Issue, Site, User

MAX_ISSUES = 1000
MAX_FIELDS = 200
NOT_LISTED = "The following editedFieldInput values are not listed as selectedActions : "
#: `editedFieldsInput` members this sandbox applies, and the field ids they edit.
SINGLE_INPUTS = {"issueType": "issuetype", "priority": "priority"}
LIST_INPUTS = frozenset(
    {"labelsFields", "singleSelectClearableUserPickerFields", "singleLineTextFields", "richTextFields"}
)
USER_FIELDS = frozenset({"assignee", "reporter"})
TEXT_FIELDS = frozenset({"summary"})
RICH_FIELDS = frozenset({"description", "environment"})


def resolve_issues(site: Site, user: User, refs: Iterable[str]) -> tuple[list[int], int]:
    """Ids of the visible issues among `refs`, and how many refs were invalid or inaccessible."""
    found: dict[int, None] = {}
    invalid = 0
    for ref in refs:
        issue = site.issue(str(ref).strip())
        if issue is None or not site.projects[issue.project_id].is_visible_to(user.account_id):
            invalid += 1
        else:
            found[issue.id] = None
    return list(found), invalid


def check_permission(user: User, status: int = 403) -> None:
    """The global bulk-change permission; `status` is what the operation documents for its absence."""
    if not user.bulk_change:
        raise BulkOperationError(status, "You don't have the global permission to make bulk changes.")


def check_size(count: int) -> None:
    if count > MAX_ISSUES:
        raise BulkOperationError(400, f"The number of issues must not exceed {MAX_ISSUES}.")


def transition_operation(site: Site, transition_id: int, user: User | None = None) -> Operation:
    """The per-issue work of a bulk transition; `user` (who submitted it) authors the history."""

    def run(issue_id: int) -> list[str]:
        issue = site.issues.get(issue_id)
        if issue is None:
            return ["The issue was deleted before the operation reached it."]
        found = next((t for t in site.workflow_of(issue).available(issue.status_id) if t.id == transition_id), None)
        if found is None:
            return [f"The transition {transition_id} is not available for the issue in its current status."]
        move_to_status(site, issue, found, user)
        return []

    return run


def parse_transition_inputs(body: Any) -> list[tuple[list[str], int]]:
    inputs = body.get("bulkTransitionInputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise BulkOperationError(400, "bulkTransitionInputs must not be empty.")
    parsed = []
    for item in inputs:
        refs = item.get("selectedIssueIdsOrKeys") if isinstance(item, dict) else None
        raw_id = item.get("transitionId") if isinstance(item, dict) else None
        if not isinstance(refs, list) or not refs or not (isinstance(raw_id, str) and raw_id.isdigit()):
            raise BulkOperationError(400, "Each input needs selectedIssueIdsOrKeys and a numeric transitionId.")
        parsed.append(([str(r) for r in refs], int(raw_id)))
    return parsed


def edit_operation(site: Site, user: User, body: Any) -> tuple[list[str], Operation]:
    """Validates a bulk edit payload; returns the selected refs and the per-issue edit."""
    if not isinstance(body, dict):
        raise BulkOperationError(400, "The request body must be a JSON object.")
    actions, inputs, refs = (body.get(k) for k in ("selectedActions", "editedFieldsInput", "selectedIssueIdsOrKeys"))
    if not isinstance(actions, list) or not isinstance(inputs, dict) or not isinstance(refs, list) or not refs:
        raise BulkOperationError(400, "selectedActions, editedFieldsInput and selectedIssueIdsOrKeys are required.")
    if len(actions) > MAX_FIELDS:
        raise BulkOperationError(400, f"The number of fields must not exceed {MAX_FIELDS}.")
    edits = _field_edits(site, inputs)
    unlisted = [field_id for field_id in edits if field_id not in actions]
    if unlisted:
        raise BulkOperationError(400, NOT_LISTED + ", ".join(unlisted))

    def run(issue_id: int) -> list[str]:
        issue = site.issues.get(issue_id)
        if issue is None:
            return ["The issue was deleted before the operation reached it."]
        changes = _changes_for(site, issue, edits)
        if changes.errors:
            return list(changes.errors.values())
        apply_changes(site, user, issue, changes, begin_write(site, issue))
        return []

    return [str(r) for r in refs], run


def _field_edits(site: Site, inputs: dict[str, Any]) -> dict[str, Any]:
    """Field id -> the edit to make, from Jira's typed `editedFieldsInput`."""
    edits: dict[str, Any] = {}
    for key, value in inputs.items():
        if key == "issueType" and isinstance(value, dict) and value.get("issueTypeId") in site.issue_types:
            edits["issuetype"] = value["issueTypeId"]
        elif key == "priority" and isinstance(value, dict) and value.get("priorityId") in site.priorities:
            edits["priority"] = value["priorityId"]
        elif key in LIST_INPUTS and isinstance(value, list):
            for item in value:
                field_id, edit = _list_edit(key, item)
                edits[field_id] = edit
        else:
            raise BulkOperationError(400, f"The value of editedFieldsInput.{key} is not valid.")
    return edits


def _list_edit(key: str, item: Any) -> tuple[str, Any]:
    field_id = item.get("fieldId") if isinstance(item, dict) else None
    if key == "labelsFields" and field_id == "labels":
        option = item.get("bulkEditMultiSelectFieldOption")
        names = [label.get("name") for label in item.get("labels", []) if isinstance(label, dict)]
        if option in {"ADD", "REMOVE", "REPLACE", "REMOVE_ALL"} and all(isinstance(n, str) and n for n in names):
            return field_id, (option, tuple(names))
    elif key == "singleSelectClearableUserPickerFields" and field_id in USER_FIELDS:
        user = item.get("user")
        return field_id, user.get("accountId") if isinstance(user, dict) else None
    elif key == "singleLineTextFields" and field_id in TEXT_FIELDS and isinstance(item.get("text"), str):
        return field_id, item["text"]
    elif key == "richTextFields" and field_id in RICH_FIELDS:
        adf = (item.get("richText") or {}).get("adfValue")
        if adf is None or is_adf(adf):
            return field_id, adf
    raise BulkOperationError(400, f"The value of editedFieldsInput.{key} is not valid.")


def _changes_for(site: Site, issue: Issue, edits: dict[str, Any]) -> Changes:
    changes = Changes()
    project = site.projects[issue.project_id]
    for field_id, edit in edits.items():
        if field_id == "labels":
            option, names = edit
            if option == "ADD":
                changes.labels_add.extend(names)
            elif option == "REMOVE":
                changes.labels_remove.extend(names)
            else:
                changes.values["labels"] = names if option == "REPLACE" else ()
        elif field_id == "issuetype" and edit not in project.issuetype_ids:
            changes.errors[field_id] = "The issue type is not available in the issue's project."
        elif (
            field_id in USER_FIELDS and edit is not None and (edit not in site.users or not project.is_visible_to(edit))
        ):
            changes.errors[field_id] = "The user cannot be assigned issues in this project."
        elif field_id == "summary" and not edit.strip():
            changes.errors[field_id] = "You must specify a summary of the issue."
        else:
            changes.values[field_id] = edit
    return changes


#: The fields bulk edit applies here (`_field_edits`), as `GET /bulk/issues/fields` lists them: id, name,
#: and whether labels-style ADD/REMOVE/REPLACE/REMOVE_ALL options apply.
EDITABLE_FIELDS = (
    ("assignee", "Assignee", False),
    ("description", "Description", False),
    ("environment", "Environment", False),
    ("issuetype", "Issue Type", False),
    ("labels", "Labels", True),
    ("priority", "Priority", False),
    ("reporter", "Reporter", False),
    ("summary", "Summary", False),
)


def editable_fields(site: Site, base: str, issue_ids: list[int], search_text: str | None) -> list[dict[str, Any]]:
    """IssueBulkEditField for each field bulk edit can set on the issues, filtered by `searchText` (a
    case-insensitive part of the name); the options of priority and the user search of user fields."""
    keys = ",".join(sorted({site.projects[site.issues[i].project_id].key for i in issue_ids}))
    needle = (search_text or "").lower()
    fields = []
    for field_id, name, multi in EDITABLE_FIELDS:
        if needle not in name.lower():
            continue
        entry: dict[str, Any] = {"id": field_id, "isRequired": field_id == "summary", "name": name, "type": field_id}
        if multi:
            entry["multiSelectFieldOptions"] = ["ADD", "REMOVE", "REPLACE", "REMOVE_ALL"]
        if field_id in USER_FIELDS:
            entry["searchUrl"] = f"{base}/rest/api/3/user/assignable/multiProjectSearch?projectKeys={keys}&query="
        if field_id == "priority":
            entry["fieldOptions"] = [
                {"description": p.description, "id": p.id, "priority": p.name} for p in site.priorities.values()
            ]
        fields.append(entry)
    return fields
