"""The model of one Jira site: configuration objects, issues, and the search index kept beside them.

Issues are slotted dataclasses and each carries one `SearchDoc` (the JQL module's row type), rebuilt on
every write, so that a site holds 100,000 issues in little memory and searches never rebuild the index.
`Site.index` holds the versions search still sees while its lag has not caught up (see index.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketbridge.sandboxes.jira.adf import plain_text
from ticketbridge.sandboxes.jira.index import SearchIndex
from ticketbridge.sandboxes.jira.jql import SearchDoc


@dataclass(frozen=True, slots=True)
class StatusCategory:
    id: int
    key: str
    name: str
    color_name: str


#: The three categories of a real Cloud site (the spec's examples use bogus keys).
CATEGORIES = {
    "new": StatusCategory(2, "new", "To Do", "blue-gray"),
    "indeterminate": StatusCategory(4, "indeterminate", "In Progress", "yellow"),
    "done": StatusCategory(3, "done", "Done", "green"),
}


@dataclass(slots=True)
class Status:
    id: str
    name: str
    category_key: str
    description: str = ""

    @property
    def category(self) -> StatusCategory:
        return CATEGORIES[self.category_key]


@dataclass(slots=True)
class Transition:
    id: int
    name: str
    to_status_id: str
    #: Statuses it leaves from; empty means a global transition, available from every status.
    from_status_ids: tuple[str, ...] = ()

    def is_available_from(self, status_id: str) -> bool:
        return not self.from_status_ids or status_id in self.from_status_ids


@dataclass(slots=True)
class Workflow:
    id: str
    name: str
    initial_status_id: str
    status_ids: list[str]
    transitions: list[Transition]

    def available(self, status_id: str) -> list[Transition]:
        return [t for t in self.transitions if t.is_available_from(status_id)]


@dataclass(slots=True)
class IssueType:
    id: str
    name: str
    description: str = ""
    subtask: bool = False
    #: -1 sub-task, 0 standard, 1 epic.
    hierarchy_level: int = 0


@dataclass(slots=True)
class Priority:
    id: str
    name: str
    description: str = ""
    status_color: str = "#000000"


@dataclass(slots=True)
class User:
    account_id: str
    display_name: str
    email: str
    api_token: str | None = None
    oauth_token: str | None = None
    #: Jira's "Make bulk changes" global permission.
    bulk_change: bool = True
    active: bool = True
    time_zone: str = "UTC"


@dataclass(slots=True)
class Project:
    id: str
    key: str
    name: str
    project_type_key: str
    lead_account_id: str
    issuetype_ids: list[str]
    workflow_id: str
    #: Account ids allowed to browse and edit; None means every user of the site.
    members: frozenset[str] | None = None
    next_number: int = 1

    def is_visible_to(self, account_id: str) -> bool:
        return self.members is None or account_id in self.members


@dataclass(slots=True)
class Comment:
    id: int
    author_account_id: str
    body: dict[str, Any]
    created: datetime
    updated: datetime


@dataclass(slots=True)
class Issue:
    id: int
    key: str
    project_id: str
    issuetype_id: str
    summary: str
    status_id: str
    priority_id: str | None
    assignee_account_id: str | None
    reporter_account_id: str | None
    labels: tuple[str, ...]
    created: datetime
    updated: datetime
    status_changed: datetime
    description: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    duedate: str | None = None
    parent_id: int | None = None
    #: None until the first comment, to keep untouched issues small.
    comments: list[Comment] | None = None
    doc: SearchDoc | None = field(default=None, repr=False)


@dataclass
class Site:
    statuses: dict[str, Status] = field(default_factory=dict)
    issue_types: dict[str, IssueType] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    #: Upper-cased key -> issue id (Jira looks keys up case-insensitively).
    issue_ids_by_key: dict[str, int] = field(default_factory=dict)
    #: Parent issue id -> its sub-task ids, so rendering `subtasks` never scans the site.
    subtask_ids: dict[int, list[int]] = field(default_factory=dict)
    next_issue_id: int = 10000
    next_comment_id: int = 10000
    #: Bumped on every issue write; search caches are keyed by it.
    version: int = 0
    #: Issues written or removed since the last save to the SQLite file.
    dirty_issue_ids: set[int] = field(default_factory=set)
    removed_issue_ids: set[int] = field(default_factory=set)
    #: What search sees of recent writes; not persisted (a restarted site is fully indexed).
    index: SearchIndex = field(default_factory=SearchIndex, repr=False)

    # -- lookups -------------------------------------------------------------------------------

    def project(self, id_or_key: str) -> Project | None:
        if id_or_key in self.projects:
            return self.projects[id_or_key]
        upper = id_or_key.upper()
        return next((p for p in self.projects.values() if p.key == upper), None)

    def issue(self, id_or_key: str) -> Issue | None:
        issue_id = int(id_or_key) if id_or_key.isdigit() else self.issue_ids_by_key.get(id_or_key.upper())
        return self.issues.get(issue_id) if issue_id is not None else None

    def user_by_api_token(self, email: str, token: str) -> User | None:
        return next(
            (u for u in self.users.values() if u.email == email and u.api_token and u.api_token == token),
            None,
        )

    def user_by_oauth_token(self, token: str) -> User | None:
        return next((u for u in self.users.values() if u.oauth_token and u.oauth_token == token), None)

    def workflow_of(self, issue: Issue) -> Workflow:
        return self.workflows[self.projects[issue.project_id].workflow_id]

    def visible_projects(self, account_id: str) -> Iterator[Project]:
        return (p for p in self.projects.values() if p.is_visible_to(account_id))

    # -- writes --------------------------------------------------------------------------------

    def allocate_issue(self, project: Project) -> tuple[int, str]:
        issue_id, key = self.next_issue_id, f"{project.key}-{project.next_number}"
        self.next_issue_id += 1
        project.next_number += 1
        return issue_id, key

    def add_issue(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.issue_ids_by_key[issue.key] = issue.id
        if issue.parent_id is not None:
            self.subtask_ids.setdefault(issue.parent_id, []).append(issue.id)
        self.reindex(issue)

    def remove_issue(self, issue: Issue) -> None:
        """Deletes the issue and its sub-tasks (sub-tasks have no children of their own)."""
        for child_id in self.subtask_ids.pop(issue.id, []):
            del self.issue_ids_by_key[self.issues.pop(child_id).key]
            self.removed_issue_ids.add(child_id)
            self.index.forget(child_id)
        self.removed_issue_ids.add(issue.id)
        self.index.forget(issue.id)
        del self.issues[issue.id]
        del self.issue_ids_by_key[issue.key]
        if issue.parent_id is not None:
            self.subtask_ids[issue.parent_id].remove(issue.id)
        self.version += 1

    def reindex(self, issue: Issue) -> None:
        """Rebuilds the issue's search row; call after every change to the issue."""
        project = self.projects[issue.project_id]
        status = self.statuses[issue.status_id]
        category = status.category
        issue_type = self.issue_types[issue.issuetype_id]
        priority = self.priorities.get(issue.priority_id) if issue.priority_id else None
        texts = [issue.summary, plain_text(issue.description)]
        texts += [plain_text(c.body) for c in issue.comments or ()]
        issue.doc = SearchDoc(
            id=issue.id,
            key=issue.key,
            project_key=project.key,
            project_id=project.id,
            summary=issue.summary,
            text="\n".join(t for t in texts if t),
            status_name=status.name,
            status_id=status.id,
            status_category_key=category.key,
            status_category_name=category.name,
            issuetype_name=issue_type.name,
            issuetype_id=issue_type.id,
            assignee_account_id=issue.assignee_account_id,
            reporter_account_id=issue.reporter_account_id,
            labels=issue.labels,
            priority_name=priority.name if priority else None,
            priority_id=priority.id if priority else None,
            created=issue.created,
            updated=issue.updated,
        )
        self.dirty_issue_ids.add(issue.id)
        self.version += 1

    def known_values(self, account_id: str) -> dict[str, set[str]]:
        """Lower-cased names and ids JQL accepts; projects the user cannot see are unknown, as in Jira."""
        projects = list(self.visible_projects(account_id))
        return {
            "project": {v.lower() for p in projects for v in (p.key, p.id, p.name)},
            "status": {v.lower() for s in self.statuses.values() for v in (s.id, s.name)},
            "issuetype": {v.lower() for t in self.issue_types.values() for v in (t.id, t.name)},
            "priority": {v.lower() for p in self.priorities.values() for v in (p.id, p.name)},
        }
