"""The model of one Jira site: configuration objects, issues, and the search index kept beside them.

Issues are slotted dataclasses and each carries one `SearchDoc` (the JQL module's row type), rebuilt on
every write, so that a site holds 100,000 issues in little memory and searches never rebuild the index.
`Site.index` holds the versions search still sees while its lag has not caught up (see index.py).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketbridge.sandboxes.jira.adf import plain_text
from ticketbridge.sandboxes.jira.history import ChangeGroup
from ticketbridge.sandboxes.jira.index import SearchIndex
from ticketbridge.sandboxes.jira.jql import JqlContext, LinkRef, SearchDoc


def date_of(text: str | None) -> datetime | None:
    """A `yyyy-MM-dd` date as the UTC midnight that starts it (how JQL compares dates)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


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
class Resolution:
    id: str
    name: str
    description: str = ""


@dataclass(slots=True)
class Component:
    id: str
    project_id: str
    name: str
    description: str = ""


@dataclass(slots=True)
class Version:
    id: str
    project_id: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None


@dataclass(slots=True)
class Sprint:
    """A Jira Software sprint (the minimal model JQL's `sprint` needs); state future, active or closed."""

    id: int
    name: str
    state: str = "active"
    goal: str = ""


@dataclass(slots=True)
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


@dataclass(slots=True)
class IssueLink:
    id: int
    type_id: str
    #: "inward_issue <outward phrase> outward_issue": with Blocks, the inward issue blocks the outward
    #: one, and seen from the inward issue the other one is its `outwardIssue`.
    inward_issue_id: int
    outward_issue_id: int


@dataclass(slots=True)
class Attachment:
    id: int
    issue_id: int
    filename: str
    mime_type: str
    author_account_id: str
    created: datetime
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(slots=True)
class Worklog:
    id: int
    author_account_id: str
    started: datetime
    time_spent_seconds: int
    created: datetime
    updated: datetime
    comment: dict[str, Any] | None = None


@dataclass(slots=True)
class FieldOption:
    id: str
    value: str
    disabled: bool = False


#: Custom field types the sandbox emulates, and Jira's schema `custom` key for each.
CUSTOM_FIELD_TYPES = {
    "text": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
    "textarea": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
    "number": "com.atlassian.jira.plugin.system.customfieldtypes:float",
    "select": "com.atlassian.jira.plugin.system.customfieldtypes:select",
    "multiselect": "com.atlassian.jira.plugin.system.customfieldtypes:multiselect",
    "user": "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
    "date": "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
    "datetime": "com.atlassian.jira.plugin.system.customfieldtypes:datetime",
    "labels": "com.atlassian.jira.plugin.system.customfieldtypes:labels",
    "sprint": "com.pyxis.greenhopper.jira:gh-sprint",
}


@dataclass(slots=True)
class CustomField:
    id: str  # customfield_NNNNN
    name: str
    type: str  # a key of CUSTOM_FIELD_TYPES
    options: list[FieldOption] = field(default_factory=list)
    #: Project ids of its contexts; None: one global context (every project).
    project_ids: frozenset[str] | None = None
    #: (project id, issue type id or None for every type) pairs where it is required.
    required: frozenset[tuple[str, str | None]] = frozenset()

    @property
    def number(self) -> int:
        return int(self.id.removeprefix("customfield_"))

    def applies_to(self, project_id: str) -> bool:
        return self.project_ids is None or project_id in self.project_ids

    def is_required(self, project_id: str, issuetype_id: str) -> bool:
        return (project_id, issuetype_id) in self.required or (project_id, None) in self.required

    def option(self, ref: str) -> FieldOption | None:
        return next((o for o in self.options if ref in (o.id, o.value)), None)


#: The resolution "Done" of Jira's default resolutions.
DONE_RESOLUTION_ID = "10000"
#: The id of Jira Cloud's Sprint field (the same on every site created since 2019).
SPRINT_FIELD_ID = "customfield_10020"


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
    resolution_id: str | None = None
    resolved: datetime | None = None
    component_ids: tuple[str, ...] = ()
    fix_version_ids: tuple[str, ...] = ()
    affected_version_ids: tuple[str, ...] = ()
    watcher_ids: tuple[str, ...] = ()
    attachment_ids: tuple[int, ...] = ()
    link_ids: tuple[int, ...] = ()
    sprint_ids: tuple[int, ...] = ()
    worklogs: tuple[Worklog, ...] = ()
    #: Custom field id -> value in the field's stored form (see fields.py); replaced whole on each write.
    custom: dict[str, Any] | None = None
    #: ORDER BY Rank: new issues go to the bottom of the backlog.
    rank: int = 0
    #: Change groups, oldest first; replaced (never mutated) on each write, like every attribute.
    history: tuple[ChangeGroup, ...] = ()
    doc: SearchDoc | None = field(default=None, repr=False)


@dataclass
class Site:
    statuses: dict[str, Status] = field(default_factory=dict)
    issue_types: dict[str, IssueType] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)
    sprints: dict[int, Sprint] = field(default_factory=dict)
    link_types: dict[str, LinkType] = field(default_factory=dict)
    links: dict[int, IssueLink] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    custom_fields: dict[str, CustomField] = field(default_factory=dict)
    #: Group name -> account ids (JQL's membersOf()).
    groups: dict[str, set[str]] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    #: Upper-cased key -> issue id (Jira looks keys up case-insensitively).
    issue_ids_by_key: dict[str, int] = field(default_factory=dict)
    #: Parent issue id -> its sub-task ids, so rendering `subtasks` never scans the site.
    subtask_ids: dict[int, list[int]] = field(default_factory=dict)
    next_issue_id: int = 10000
    next_comment_id: int = 10000
    next_changelog_id: int = 10000
    next_link_id: int = 10000
    next_attachment_id: int = 10000
    next_worklog_id: int = 10000
    next_object_id: int = 10000
    next_custom_field_number: int = 10100
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
        if not issue.rank:
            issue.rank = issue.id
        # Issues seeded or generated in a done status are resolved, as the workflow would have done.
        done = self.statuses[issue.status_id].category_key == "done"
        if done and issue.resolution_id is None and DONE_RESOLUTION_ID in self.resolutions:
            issue.resolution_id, issue.resolved = DONE_RESOLUTION_ID, issue.status_changed
        self.issues[issue.id] = issue
        self.issue_ids_by_key[issue.key] = issue.id
        if issue.parent_id is not None:
            self.subtask_ids.setdefault(issue.parent_id, []).append(issue.id)
        self.reindex(issue)

    def remove_issue(self, issue: Issue) -> None:
        """Deletes the issue and its sub-tasks (sub-tasks have no children of their own); an epic's
        children stay, without a parent, as in Jira."""
        for child_id in self.subtask_ids.pop(issue.id, []):
            child = self.issues[child_id]
            if not self.issue_types[child.issuetype_id].subtask:
                child.parent_id = None
                self.reindex(child)
                continue
            self._forget_attached(child)
            del self.issue_ids_by_key[self.issues.pop(child_id).key]
            self.removed_issue_ids.add(child_id)
            self.index.forget(child_id)
        self.removed_issue_ids.add(issue.id)
        self.index.forget(issue.id)
        self._forget_attached(issue)
        del self.issues[issue.id]
        del self.issue_ids_by_key[issue.key]
        if issue.parent_id is not None:
            self.subtask_ids[issue.parent_id].remove(issue.id)
        self.version += 1

    def set_parent(self, issue: Issue, parent_id: int | None) -> None:
        """Moves the issue under another parent (or none), keeping the index of children in step."""
        if issue.parent_id is not None:
            self.subtask_ids[issue.parent_id].remove(issue.id)
        issue.parent_id = parent_id
        if parent_id is not None:
            self.subtask_ids.setdefault(parent_id, []).append(issue.id)
        for child_id in self.subtask_ids.get(issue.id, ()):  # their parentEpic moves with them
            self.reindex(self.issues[child_id])

    def reindex(self, issue: Issue) -> None:
        """Rebuilds the issue's search row; call after every change to the issue."""
        project = self.projects[issue.project_id]
        status = self.statuses[issue.status_id]
        category = status.category
        issue_type = self.issue_types[issue.issuetype_id]
        priority = self.priorities.get(issue.priority_id) if issue.priority_id else None
        resolution = self.resolutions.get(issue.resolution_id) if issue.resolution_id else None
        parent = self.issues.get(issue.parent_id) if issue.parent_id is not None else None
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
            resolution_id=resolution.id if resolution else None,
            resolution_name=resolution.name if resolution else None,
            resolved=issue.resolved,
            duedate=date_of(issue.duedate),
            components=tuple((c, self.components[c].name) for c in issue.component_ids if c in self.components),
            fix_versions=tuple((v, self.versions[v].name) for v in issue.fix_version_ids if v in self.versions),
            affected_versions=tuple(
                (v, self.versions[v].name) for v in issue.affected_version_ids if v in self.versions
            ),
            parent_id=parent.id if parent else None,
            parent_key=parent.key if parent else None,
            epic_key=self._epic_key(issue),
            watcher_ids=issue.watcher_ids,
            has_attachments=bool(issue.attachment_ids),
            links=tuple(self.link_refs(issue)),
            sprint_ids=issue.sprint_ids,
            custom=self.custom_search_values(issue),
            rank=issue.rank,
            history=issue.history,
        )
        self.dirty_issue_ids.add(issue.id)
        self.version += 1

    def _epic_key(self, issue: Issue) -> str | None:
        """The epic above the issue (its parent, or its parent's parent for a sub-task), for parentEpic."""
        parent = self.issues.get(issue.parent_id) if issue.parent_id is not None else None
        for _ in range(2):
            if parent is None:
                return None
            if self.issue_types[parent.issuetype_id].hierarchy_level == 1:
                return parent.key
            parent = self.issues.get(parent.parent_id) if parent.parent_id is not None else None
        return None

    def jql_context(self) -> JqlContext:
        """What JQL needs of the site beyond values: custom fields, groups, sub-task types, sprints."""
        subtasks = {v.lower() for t in self.issue_types.values() if t.subtask for v in (t.id, t.name)}
        standard = {v.lower() for t in self.issue_types.values() if not t.subtask for v in (t.id, t.name)}
        return JqlContext(
            custom_fields=self.jql_fields(),
            groups={name.lower(): frozenset(members) for name, members in self.groups.items()},
            subtask_types=frozenset(subtasks),
            standard_types=frozenset(standard),
            sprint_states={s.id: s.state for s in self.sprints.values()},
            sprint_names={s.name.lower(): s.id for s in self.sprints.values()},
            custom_options={
                f.id: frozenset(v for o in f.options for v in (o.id, o.value.lower()))
                for f in self.custom_fields.values()
                if f.type in ("select", "multiselect")
            },
        )

    def link_refs(self, issue: Issue) -> Iterator[LinkRef]:
        """The issue's links as JQL's linkedIssues() sees them: the other issue and the phrase from here."""
        for link_id in issue.link_ids:
            link = self.links[link_id]
            link_type = self.link_types[link.type_id]
            if link.inward_issue_id == issue.id:
                other, own, others = link.outward_issue_id, link_type.outward, link_type.inward
            else:
                other, own, others = link.inward_issue_id, link_type.inward, link_type.outward
            if other in self.issues:
                yield LinkRef(other, self.issues[other].key, own.lower(), others.lower(), link_type.name.lower())

    def custom_search_values(self, issue: Issue) -> dict[str, Any] | None:
        """Custom field id -> the value JQL compares (names lower-cased, options by value and id)."""
        if not issue.custom:
            return None
        found: dict[str, Any] = {}
        for field_id, value in issue.custom.items():
            custom_field = self.custom_fields.get(field_id)
            if custom_field is None or value is None:
                continue
            match custom_field.type:
                case "select" | "multiselect":
                    ids = value if isinstance(value, tuple) else (value,)
                    options = [custom_field.option(i) for i in ids]
                    found[field_id] = tuple(v for o in options if o for v in (o.id, o.value.lower()))
                case "labels":
                    found[field_id] = tuple(label.lower() for label in value)
                case "textarea":
                    found[field_id] = plain_text(value)
                case "date":
                    found[field_id] = date_of(value)
                case "datetime":
                    found[field_id] = datetime.fromisoformat(value)
                case _:
                    found[field_id] = value
        return found

    # -- links ---------------------------------------------------------------------------------

    def add_link(self, link: IssueLink) -> None:
        self.links[link.id] = link
        for issue_id in {link.inward_issue_id, link.outward_issue_id}:
            issue = self.issues[issue_id]
            issue.link_ids = (*issue.link_ids, link.id)
            self.reindex(issue)

    def remove_link(self, link: IssueLink) -> None:
        """Removes the link from both issues and reindexes them (callers lagging search call
        `index.before_write` on both first)."""
        del self.links[link.id]
        for issue_id in {link.inward_issue_id, link.outward_issue_id}:
            issue = self.issues.get(issue_id)
            if issue is not None:
                issue.link_ids = tuple(i for i in issue.link_ids if i != link.id)
                self.reindex(issue)

    def _forget_attached(self, issue: Issue) -> None:
        """Drops what belongs to a deleted issue: its links (on both ends) and attachments."""
        for link_id in issue.link_ids:
            if link_id in self.links:
                self.remove_link(self.links[link_id])
        for attachment_id in issue.attachment_ids:
            self.attachments.pop(attachment_id, None)

    def allocate_id(self) -> str:
        """A fresh id for a component, version, option or other site object (Jira's ids are one sequence)."""
        self.next_object_id += 1
        return str(self.next_object_id - 1)

    def custom_field(self, ref: str) -> CustomField | None:
        """By id (`customfield_10100`), `cf[10100]` number or name (case-insensitive)."""
        if ref in self.custom_fields:
            return self.custom_fields[ref]
        if ref.isdigit():
            return self.custom_fields.get(f"customfield_{ref}")
        return next((f for f in self.custom_fields.values() if f.name.lower() == ref.lower()), None)

    def known_values(self, account_id: str) -> dict[str, Container[str]]:
        """Lower-cased names and ids JQL accepts; projects the user cannot see are unknown, as in Jira.
        Issue keys and ids are those of the issues that exist now: a deleted one is unknown."""
        projects = list(self.visible_projects(account_id))
        visible = {p.id for p in projects}
        return {
            "key": IssueRefs(self, frozenset(visible)),
            "project": {v.lower() for p in projects for v in (p.key, p.id, p.name)},
            "status": {v.lower() for s in self.statuses.values() for v in (s.id, s.name)},
            "issuetype": {v.lower() for t in self.issue_types.values() for v in (t.id, t.name)},
            "priority": {v.lower() for p in self.priorities.values() for v in (p.id, p.name)},
            "resolution": {v.lower() for r in self.resolutions.values() for v in (r.id, r.name)} | {"unresolved"},
            "component": {
                v.lower() for c in self.components.values() if c.project_id in visible for v in (c.id, c.name)
            },
            "version": {v.lower() for x in self.versions.values() if x.project_id in visible for v in (x.id, x.name)},
            "sprint": {v.lower() for s in self.sprints.values() for v in (str(s.id), s.name)},
            "group": {g.lower() for g in self.groups},
        }

    def jql_fields(self) -> dict[str, tuple[str, str]]:
        """Lower-cased JQL names of the custom fields (name, `cf[N]`, id) -> (field id, type)."""
        names: dict[str, tuple[str, str]] = {}
        for f in self.custom_fields.values():
            for name in (f.name.lower(), f"cf[{f.number}]"):
                names[name] = (f.id, f.type)
        return names


@dataclass(frozen=True, slots=True)
class IssueRefs:
    """The keys and ids (any case) of the issues in `project_ids`, looked up when asked: a site of many
    issues is not copied into a set for every search."""

    site: Site
    project_ids: frozenset[str]

    def __contains__(self, ref: object) -> bool:
        if not isinstance(ref, str):
            return False
        issue = self.site.issue(ref)
        return issue is not None and issue.project_id in self.project_ids
