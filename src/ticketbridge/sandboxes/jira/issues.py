"""Writes to issues: create, edit, transition, comment, delete. Each raises `JiraError` as Jira answers.

Every write calls `begin_write` once, after validation and before it changes the issue: it tells
`site.index` (search lags behind the write) and takes the snapshot the write's change group in the
issue's history is computed from (history.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticketbridge.sandboxes.jira.errors import JiraError, issue_not_found
from ticketbridge.sandboxes.jira.fields import Changes, parse_changes
from ticketbridge.sandboxes.jira.history import Snapshot, record, snapshot
from ticketbridge.sandboxes.jira.state import Comment, Issue, Site, Transition, User

#: Medium, the default of Jira's default priority scheme.
DEFAULT_PRIORITY_ID = "3"
#: Fields on the sandbox's transition screens (Jira refuses any other with "not on the screen").
TRANSITION_FIELDS = frozenset({"assignee", "labels", "priority", "description", "resolution"})
#: The resolution a transition into a done status sets when its screen gives none (Jira's post function).
DEFAULT_RESOLUTION_ID = "10000"


def begin_write(site: Site, issue: Issue) -> Snapshot:
    """Call once per write, after validation and before the first change: search keeps seeing the
    issue as it is (for `search_lag_ms`), and the returned snapshot is what `finish_write` diffs."""
    site.index.before_write(issue)
    return snapshot(site, issue)


def finish_write(site: Site, user: User | None, issue: Issue, before: Snapshot, now: datetime) -> None:
    """Records the write in the issue's history and rebuilds its search row."""
    record(site, issue, user.account_id if user else None, before, now)
    site.reindex(issue)


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
        component_ids=values.get("components", ()),
        fix_version_ids=values.get("fixVersions", ()),
        affected_version_ids=values.get("versions", ()),
        sprint_ids=values.get("sprint", ()),
        custom={k: v for k, v in changes.custom.items() if v is not None} or None,
        # The reporter watches what they report, as Jira's default notification scheme does.
        watcher_ids=(user.account_id,),
    )
    _add_comments(site, user, issue, changes.comments, now)
    site.index.before_write(issue, created=True)
    site.add_issue(issue)
    if body.get("transition") is not None:
        transition = _find_transition(workflow.available(issue.status_id), body["transition"])
        before = snapshot(site, issue)
        _move(site, issue, transition, now)
        finish_write(site, user, issue, before, now)
    return issue


def edit_issue(site: Site, user: User, issue: Issue, body: Any) -> None:
    if not isinstance(body, dict) or not (body.get("fields") or body.get("update")):
        raise JiraError(400, ["No fields or update were given to edit the issue."])
    changes = parse_changes(site, user, body, issue=issue)
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    apply_changes(site, user, issue, changes, begin_write(site, issue))


def transition_issue(site: Site, user: User, issue: Issue, body: Any) -> None:
    if not isinstance(body, dict) or body.get("transition") is None:
        raise JiraError(400, ["Missing 'transition' identifier"])
    transition = _find_transition(site.workflow_of(issue).available(issue.status_id), body["transition"])
    changes = parse_changes(site, user, body, issue=issue, allowed=TRANSITION_FIELDS)
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    before = begin_write(site, issue)
    _move(site, issue, transition, datetime.now(UTC), changes.values.get("resolution"))
    apply_changes(site, user, issue, changes, before)


def add_comment(site: Site, user: User, issue: Issue, body: dict[str, Any]) -> Comment:
    site.index.before_write(issue)
    now = datetime.now(UTC)
    comment = _add_comments(site, user, issue, [body], now)[0]
    issue.updated = now
    site.reindex(issue)
    return comment


def apply_changes(site: Site, user: User, issue: Issue, changes: Changes, before: Snapshot | None = None) -> None:
    """Applies parsed changes, bumps `updated` as every Jira write does, and records the history.

    `before` is what `begin_write` answered (the caller calls it once per write, before any change);
    without it, the history compares with the issue as it is on entry.
    """
    now = datetime.now(UTC)
    before = before if before is not None else snapshot(site, issue)
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
        ("components", "component_ids"),
        ("fixVersions", "fix_version_ids"),
        ("versions", "affected_version_ids"),
        ("sprint", "sprint_ids"),
        ("resolution", "resolution_id"),
    ):
        if name in values:
            setattr(issue, attribute, values[name])
    if "parent" in values and values["parent"] != issue.parent_id:
        site.set_parent(issue, values["parent"])
    labels = list(values.get("labels", issue.labels))
    labels += [label for label in changes.labels_add if label not in labels]
    issue.labels = tuple(label for label in labels if label not in changes.labels_remove)
    if changes.custom:
        custom = dict(issue.custom or {}) | changes.custom
        issue.custom = {k: v for k, v in custom.items() if v is not None} or None
    _add_comments(site, user, issue, changes.comments, now)
    issue.updated = now
    finish_write(site, user, issue, before, now)


def move_to_status(site: Site, issue: Issue, transition: Transition, user: User | None = None) -> None:
    before = begin_write(site, issue)
    now = datetime.now(UTC)
    _move(site, issue, transition, now)
    finish_write(site, user, issue, before, now)


def jump_to_status(site: Site, issue: Issue, status_id: str, now: datetime) -> None:
    """Puts the issue in any status of its workflow (a UI edit), with the resolution that goes with it."""
    _move(site, issue, Transition(0, "", status_id), now)


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


def _move(site: Site, issue: Issue, transition: Transition, now: datetime, resolution_id: str | None = None) -> None:
    """Moves to the transition's status; entering a done status resolves the issue (with the screen's
    resolution, else Done), leaving the done category clears the resolution, as Jira's workflows do."""
    if issue.status_id != transition.to_status_id:
        issue.status_changed = now
    issue.status_id = transition.to_status_id
    issue.updated = now
    if site.statuses[issue.status_id].category_key == "done":
        if issue.resolution_id is None or resolution_id is not None:
            default = DEFAULT_RESOLUTION_ID if DEFAULT_RESOLUTION_ID in site.resolutions else None
            issue.resolution_id = resolution_id or default
            issue.resolved = now if issue.resolution_id else None
    elif issue.resolution_id is not None:
        issue.resolution_id, issue.resolved = None, None


def _add_comments(site: Site, user: User, issue: Issue, bodies: list[dict[str, Any]], now: datetime) -> list[Comment]:
    added = []
    for body in bodies:
        comment = Comment(site.next_comment_id, user.account_id, body, now, now)
        site.next_comment_id += 1
        added.append(comment)
    if added:
        issue.comments = [*(issue.comments or []), *added]
    return added
