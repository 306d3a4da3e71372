"""Writes to issues: create, edit, transition, comment, delete. Each raises `JiraError` as Jira answers.

Every write tells `site.index` before it changes an issue, so that search can lag behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticketbridge.sandboxes.jira.errors import JiraError, issue_not_found
from ticketbridge.sandboxes.jira.fields import Changes, parse_changes
from ticketbridge.sandboxes.jira.state import Comment, Issue, Site, Transition, User

#: Medium, the default of Jira's default priority scheme.
DEFAULT_PRIORITY_ID = "3"
#: Fields on the sandbox's transition screens (Jira refuses any other with "not on the screen").
TRANSITION_FIELDS = frozenset({"assignee", "labels", "priority", "description"})


def visible_issue(site: Site, user: User, id_or_key: str) -> Issue:
    """The issue, or Jira's 404 when it is missing *or* in a project the user cannot browse."""
    issue = site.issue(id_or_key)
    if issue is None or not site.projects[issue.project_id].is_visible_to(user.account_id):
        raise issue_not_found()
    return issue


def validate_create(site: Site, user: User, body: Any) -> Changes:
    if not isinstance(body, dict):
        raise JiraError(400, ["Issue body must be a JSON object."])
    changes = parse_changes(site, user, body, issue=None)
    transition = body.get("transition")
    if transition is not None and not changes.errors:
        workflow = site.workflows[site.projects[changes.values["project"]].workflow_id]
        _find_transition(workflow.available(workflow.initial_status_id), transition)
    return changes


def create_issue(site: Site, user: User, body: dict[str, Any], changes: Changes) -> Issue:
    """Creates a validated issue in its workflow's initial status, then runs the requested transition."""
    project = site.projects[changes.values["project"]]
    workflow = site.workflows[project.workflow_id]
    issue_id, key = site.allocate_issue(project)
    now = datetime.now(UTC)
    values = changes.values
    labels = list(values.get("labels", ()))
    labels += [label for label in changes.labels_add if label not in labels]
    issue = Issue(
        issue_id,
        key,
        project.id,
        values["issuetype"],
        values["summary"],
        workflow.initial_status_id,
        values.get("priority", DEFAULT_PRIORITY_ID if DEFAULT_PRIORITY_ID in site.priorities else None),
        values.get("assignee"),
        values.get("reporter", user.account_id),
        tuple(label for label in labels if label not in changes.labels_remove),
        now,
        now,
        now,
        description=values.get("description"),
        environment=values.get("environment"),
        duedate=values.get("duedate"),
        parent_id=values.get("parent"),
    )
    _add_comments(site, user, issue, changes.comments, now)
    site.index.before_write(issue, created=True)
    site.add_issue(issue)
    if body.get("transition") is not None:
        transition = _find_transition(workflow.available(issue.status_id), body["transition"])
        _move(issue, transition, now)
        site.reindex(issue)
    return issue


def edit_issue(site: Site, user: User, issue: Issue, body: Any) -> None:
    if not isinstance(body, dict) or not (body.get("fields") or body.get("update")):
        raise JiraError(400, ["No fields or update were given to edit the issue."])
    changes = parse_changes(site, user, body, issue=issue)
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    site.index.before_write(issue)
    apply_changes(site, user, issue, changes)


def transition_issue(site: Site, user: User, issue: Issue, body: Any) -> None:
    if not isinstance(body, dict) or body.get("transition") is None:
        raise JiraError(400, ["Missing 'transition' identifier"])
    transition = _find_transition(site.workflow_of(issue).available(issue.status_id), body["transition"])
    changes = parse_changes(site, user, body, issue=issue, allowed=TRANSITION_FIELDS)
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    site.index.before_write(issue)
    _move(issue, transition, datetime.now(UTC))
    apply_changes(site, user, issue, changes)


def add_comment(site: Site, user: User, issue: Issue, body: dict[str, Any]) -> Comment:
    site.index.before_write(issue)
    now = datetime.now(UTC)
    comment = _add_comments(site, user, issue, [body], now)[0]
    issue.updated = now
    site.reindex(issue)
    return comment


def apply_changes(site: Site, user: User, issue: Issue, changes: Changes) -> None:
    """Applies parsed changes and bumps `updated`, as every Jira write does.

    The caller calls `site.index.before_write(issue)` first (once per write, before any change).
    """
    now = datetime.now(UTC)
    values = changes.values
    for name, attribute in (
        ("summary", "summary"),
        ("issuetype", "issuetype_id"),
        ("priority", "priority_id"),
        ("assignee", "assignee_account_id"),
        ("reporter", "reporter_account_id"),
        ("description", "description"),
        ("environment", "environment"),
        ("duedate", "duedate"),
    ):
        if name in values:
            setattr(issue, attribute, values[name])
    labels = list(values.get("labels", issue.labels))
    labels += [label for label in changes.labels_add if label not in labels]
    issue.labels = tuple(label for label in labels if label not in changes.labels_remove)
    _add_comments(site, user, issue, changes.comments, now)
    issue.updated = now
    site.reindex(issue)


def move_to_status(site: Site, issue: Issue, transition: Transition) -> None:
    site.index.before_write(issue)
    _move(issue, transition, datetime.now(UTC))
    site.reindex(issue)


def transition_id(raw: Any) -> int:
    """Jira types the id as a string but requires digits; clients send both "31" and 31."""
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise JiraError(400, ["'transition' identifier must be an integer"])


def _find_transition(available: list[Transition], raw: Any) -> Transition:
    wanted = transition_id(raw)
    found = next((t for t in available if t.id == wanted), None)
    if found is None:
        raise JiraError(400, [f"Transition id '{wanted}' is not valid for this issue."])
    return found


def _move(issue: Issue, transition: Transition, now: datetime) -> None:
    if issue.status_id != transition.to_status_id:
        issue.status_changed = now
    issue.status_id = transition.to_status_id
    issue.updated = now


def _add_comments(site: Site, user: User, issue: Issue, bodies: list[dict[str, Any]], now: datetime) -> list[Comment]:
    added = []
    for body in bodies:
        comment = Comment(site.next_comment_id, user.account_id, body, now, now)
        site.next_comment_id += 1
        added.append(comment)
    if added:
        issue.comments = [*(issue.comments or []), *added]
    return added
