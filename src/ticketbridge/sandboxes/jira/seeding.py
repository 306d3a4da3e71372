"""The seed specification accepted by `POST /__sandbox__/seed`, and how it is added to a site."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.jira.adf import paragraph
from ticketbridge.sandboxes.jira.demo import generate_issues
from ticketbridge.sandboxes.jira.fields import Changes, read_custom
from ticketbridge.sandboxes.jira.history import record, snapshot
from ticketbridge.sandboxes.jira.state import (
    CUSTOM_FIELD_TYPES,
    Component,
    CustomField,
    FieldOption,
    Issue,
    IssueType,
    Priority,
    Project,
    Site,
    Sprint,
    Status,
    Transition,
    User,
    Version,
    Workflow,
)


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class UserSeed(_Seed):
    account_id: str
    display_name: str
    email: str
    api_token: str | None = None
    oauth_token: str | None = None
    bulk_change: bool = True


class StatusSeed(_Seed):
    id: str
    name: str
    category: Literal["new", "indeterminate", "done"]


class TransitionSeed(_Seed):
    id: int
    name: str
    to: str
    #: Status ids it leaves from; empty for a global transition.
    from_: list[str] = Field(default_factory=list, alias="from")


class WorkflowSeed(_Seed):
    id: str
    name: str
    initial_status: str
    statuses: list[str]
    transitions: list[TransitionSeed]


class IssueTypeSeed(_Seed):
    id: str
    name: str
    subtask: bool = False
    hierarchy_level: int = 0


class PrioritySeed(_Seed):
    id: str
    name: str


class ProjectSeed(_Seed):
    id: str
    key: str
    name: str
    type: Literal["software", "service_desk", "business"] = "software"
    lead: str
    issue_types: list[str]
    workflow: str
    #: Account ids allowed in the project; None for everyone.
    members: list[str] | None = None


class RequiredSeed(_Seed):
    project: str
    #: An issue type id or name; None: every type of the project.
    issuetype: str | None = None


class CustomFieldSeed(_Seed):
    """A custom field; seeding a name again reconfigures that field (same id)."""

    name: str
    type: Literal["text", "textarea", "number", "select", "multiselect", "user", "date", "datetime", "labels"]
    options: list[str] = Field(default_factory=list)
    #: Project keys or ids of its contexts; None: a global context.
    projects: list[str] | None = None
    required: list[RequiredSeed] = Field(default_factory=list)


class ComponentSeed(_Seed):
    project: str
    name: str
    description: str = ""


class VersionSeed(_Seed):
    project: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None


class SprintSeed(_Seed):
    id: int
    name: str
    state: Literal["future", "active", "closed"] = "active"
    goal: str = ""


class ChangeSeed(_Seed):
    """One past change of a seeded issue, applied in order: the values it sets, when and by whom."""

    at: datetime
    by: str | None = None
    status: str | None = None
    assignee: str | None = None
    unassign: bool = False
    priority: str | None = None
    fix_versions: list[str] | None = None


class IssueSeed(_Seed):
    project: str
    summary: str
    issuetype: str = "10001"
    status: str | None = None
    priority: str | None = "3"
    assignee: str | None = None
    reporter: str | None = None
    labels: list[str] = Field(default_factory=list)
    description: str | None = None
    #: The values above hold from `created`; `history` changes them later, oldest first.
    created: datetime | None = None
    history: list[ChangeSeed] = Field(default_factory=list)
    resolution: str | None = None
    duedate: str | None = None
    components: list[str] = Field(default_factory=list)
    fix_versions: list[str] = Field(default_factory=list)
    affected_versions: list[str] = Field(default_factory=list)
    sprint: int | None = None
    parent: str | None = None
    watchers: list[str] = Field(default_factory=list)
    #: Custom field values, Jira-shaped, by field id or name: {"Severity": {"value": "S1"}}.
    fields: dict[str, Any] = Field(default_factory=dict)


class SeedRequest(_Seed):
    users: list[UserSeed] = Field(default_factory=list)
    statuses: list[StatusSeed] = Field(default_factory=list)
    workflows: list[WorkflowSeed] = Field(default_factory=list)
    issue_types: list[IssueTypeSeed] = Field(default_factory=list)
    priorities: list[PrioritySeed] = Field(default_factory=list)
    projects: list[ProjectSeed] = Field(default_factory=list)
    components: list[ComponentSeed] = Field(default_factory=list)
    versions: list[VersionSeed] = Field(default_factory=list)
    sprints: list[SprintSeed] = Field(default_factory=list)
    #: Group name -> account ids (JQL's membersOf()).
    groups: dict[str, list[str]] = Field(default_factory=dict)
    custom_fields: list[CustomFieldSeed] = Field(default_factory=list)
    #: Either explicit issues, or a number of generated issues in `project`.
    issues: list[IssueSeed] | int = Field(default_factory=list)
    project: str = "DEMO"


class SeedError(ValueError):
    """The seed refers to something the site does not have."""


def seed(site: Site, request: SeedRequest) -> list[str]:
    """Adds everything in `request` to `site`; returns the keys of the issues created."""
    for u in request.users:
        site.users[u.account_id] = User(
            u.account_id, u.display_name, u.email, u.api_token, u.oauth_token, u.bulk_change
        )
    for s in request.statuses:
        site.statuses[s.id] = Status(s.id, s.name, s.category)
    for w in request.workflows:
        _require(set(w.statuses) | {w.initial_status} | {t.to for t in w.transitions}, site.statuses, "status")
        transitions = [Transition(t.id, t.name, t.to, tuple(t.from_)) for t in w.transitions]
        site.workflows[w.id] = Workflow(w.id, w.name, w.initial_status, list(w.statuses), transitions)
    for t in request.issue_types:
        site.issue_types[t.id] = IssueType(t.id, t.name, subtask=t.subtask, hierarchy_level=t.hierarchy_level)
    for pr in request.priorities:
        site.priorities[pr.id] = Priority(pr.id, pr.name)
    for p in request.projects:
        _require(set(p.issue_types), site.issue_types, "issue type")
        _require({p.workflow}, site.workflows, "workflow")
        _require({p.lead}, site.users, "user")
        members = frozenset(p.members) if p.members is not None else None
        site.projects[p.id] = Project(
            p.id, p.key.upper(), p.name, p.type, p.lead, list(p.issue_types), p.workflow, members
        )
    _seed_model(site, request)
    if isinstance(request.issues, int):
        project = _project(site, request.project)
        return [i.key for i in generate_issues(site, project, request.issues)]
    return [_add(site, spec).key for spec in request.issues]


def custom_field_ids(site: Site, request: SeedRequest) -> dict[str, str]:
    """The id (`customfield_NNNNN`) of each custom field of the seed, by name."""
    return {f.name: found.id for f in request.custom_fields if (found := site.custom_field(f.name)) is not None}


def _seed_model(site: Site, request: SeedRequest) -> None:
    for c in request.components:
        project = _project(site, c.project)
        if not any(x.project_id == project.id and x.name == c.name for x in site.components.values()):
            component = Component(site.allocate_id(), project.id, c.name, c.description)
            site.components[component.id] = component
    for v in request.versions:
        project = _project(site, v.project)
        if not any(x.project_id == project.id and x.name == v.name for x in site.versions.values()):
            version = Version(site.allocate_id(), project.id, v.name, v.released, v.archived, v.release_date)
            site.versions[version.id] = version
    for s in request.sprints:
        site.sprints[s.id] = Sprint(s.id, s.name, s.state, s.goal)
    for name, members in request.groups.items():
        _require(set(members), site.users, "user")
        site.groups[name] = set(members)
    for f in request.custom_fields:
        _seed_custom_field(site, f)


def _seed_custom_field(site: Site, spec: CustomFieldSeed) -> None:
    assert spec.type in CUSTOM_FIELD_TYPES
    existing = site.custom_field(spec.name)
    if existing is None:
        field_id = f"customfield_{site.next_custom_field_number}"
        site.next_custom_field_number += 1
    else:
        field_id = existing.id
    old = {o.value: o.id for o in existing.options} if existing else {}
    options = [FieldOption(old.get(value) or site.allocate_id(), value) for value in dict.fromkeys(spec.options)]
    if spec.type in ("select", "multiselect") and not options:
        raise SeedError(f"custom field {spec.name!r} of type {spec.type} needs options")
    projects = [_project(site, ref) for ref in spec.projects] if spec.projects is not None else None
    required: set[tuple[str, str | None]] = set()
    for r in spec.required:
        project = _project(site, r.project)
        type_id = None
        if r.issuetype is not None:
            type_id = next((t for t in project.issuetype_ids if r.issuetype in (t, site.issue_types[t].name)), None)
            if type_id is None:
                raise SeedError(f"unknown issue type {r.issuetype!r} in project {project.key}")
        required.add((project.id, type_id))
    site.custom_fields[field_id] = CustomField(
        field_id,
        spec.name,
        spec.type,
        options,
        frozenset(p.id for p in projects) if projects is not None else None,
        frozenset(required),
    )


def _add(site: Site, spec: IssueSeed) -> Issue:
    project = _project(site, spec.project)
    workflow = site.workflows[project.workflow_id]
    status = workflow.initial_status_id
    if spec.status is not None:
        status = next((s for s in workflow.status_ids if spec.status in (s, site.statuses[s].name)), "")
        _require({status}, workflow.status_ids, "status")
    _require({spec.issuetype}, project.issuetype_ids, "issue type")
    people = {a for a in (spec.assignee, spec.reporter) if a}
    _require(people, site.users, "user")
    if spec.priority is not None:
        _require({spec.priority}, site.priorities, "priority")
    issue_id, key = site.allocate_issue(project)
    now = spec.created.astimezone(UTC) if spec.created else datetime.now(UTC)
    issue = Issue(
        issue_id,
        key,
        project.id,
        spec.issuetype,
        spec.summary,
        status,
        spec.priority,
        spec.assignee,
        spec.reporter or project.lead_account_id,
        tuple(spec.labels),
        now,
        now,
        now,
        description=paragraph(spec.description) if spec.description else None,
    )
    _add_model_values(site, project, issue, spec)
    site.add_issue(issue)
    for change in spec.history:
        _replay(site, project, issue, change)
    return issue


def _add_model_values(site: Site, project: Project, issue: Issue, spec: IssueSeed) -> None:
    if spec.resolution is not None:
        found = next((r for r in site.resolutions.values() if spec.resolution in (r.id, r.name)), None)
        _require({found.id if found else spec.resolution}, site.resolutions, "resolution")
        issue.resolution_id, issue.resolved = found.id if found else None, issue.status_changed
    issue.duedate = spec.duedate
    issue.component_ids = _named(site.components, project, spec.components, "component")
    issue.fix_version_ids = _named(site.versions, project, spec.fix_versions, "version")
    issue.affected_version_ids = _named(site.versions, project, spec.affected_versions, "version")
    if spec.sprint is not None:
        _require({str(spec.sprint)}, {str(s) for s in site.sprints}, "sprint")
        issue.sprint_ids = (spec.sprint,)
    if spec.parent is not None:
        parent = site.issue(spec.parent)
        if parent is None:
            raise SeedError(f"unknown parent {spec.parent!r}")
        issue.parent_id = parent.id
    _require(set(spec.watchers), site.users, "user")
    issue.watcher_ids = tuple(spec.watchers)
    changes = Changes()
    for ref, value in spec.fields.items():
        custom_field = site.custom_field(ref.removeprefix("cf[").removesuffix("]"))
        if custom_field is None:
            raise SeedError(f"unknown custom field {ref!r}")
        read_custom(site, custom_field, value, changes)
    if changes.errors:
        raise SeedError("; ".join(f"{k}: {v}" for k, v in changes.errors.items()))
    issue.custom = {k: v for k, v in changes.custom.items() if v is not None} or None


def _named(table: dict[str, Any], project: Project, refs: list[str], kind: str) -> tuple[str, ...]:
    ids = []
    for ref in refs:
        found = next((x for x in table.values() if x.project_id == project.id and ref in (x.id, x.name)), None)
        if found is None:
            raise SeedError(f"unknown {kind} {ref!r} in project {project.key}")
        ids.append(found.id)
    return tuple(ids)


def _replay(site: Site, project: Project, issue: Issue, change: ChangeSeed) -> None:
    """Applies one seeded past change and records it in the history at its time."""
    at = change.at.astimezone(UTC)
    author = change.by or project.lead_account_id
    _require({author}, site.users, "user")
    before = snapshot(site, issue)
    if change.status is not None:
        workflow = site.workflows[project.workflow_id]
        status = next((s for s in workflow.status_ids if change.status in (s, site.statuses[s].name)), "")
        _require({status}, workflow.status_ids, "status")
        issue.status_id, issue.status_changed = status, at
        done = site.statuses[status].category_key == "done"
        if done and issue.resolution_id is None and "10000" in site.resolutions:
            issue.resolution_id, issue.resolved = "10000", at
        elif not done:
            issue.resolution_id, issue.resolved = None, None
    if change.assignee is not None or change.unassign:
        _require({change.assignee} - {None}, site.users, "user")  # type: ignore[arg-type]
        issue.assignee_account_id = None if change.unassign else change.assignee
    if change.priority is not None:
        _require({change.priority}, site.priorities, "priority")
        issue.priority_id = change.priority
    if change.fix_versions is not None:
        issue.fix_version_ids = _named(site.versions, project, change.fix_versions, "version")
    issue.updated = max(issue.updated, at)
    record(site, issue, author, before, at)
    site.reindex(issue)


def _project(site: Site, ref: str) -> Project:
    project = site.project(ref)
    if project is None:
        raise SeedError(f"unknown project {ref!r}")
    return project


def _require(wanted: set[str], existing: Collection[str], kind: str) -> None:
    missing = sorted(wanted - set(existing))
    if missing:
        raise SeedError(f"unknown {kind}: {', '.join(missing)}")
