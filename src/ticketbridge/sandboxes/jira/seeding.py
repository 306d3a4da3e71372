"""The seed specification accepted by `POST /__sandbox__/seed`, and how it is added to a site."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.jira.adf import paragraph
from ticketbridge.sandboxes.jira.demo import generate_issues
from ticketbridge.sandboxes.jira.state import (
    Issue,
    IssueType,
    Priority,
    Project,
    Site,
    Status,
    Transition,
    User,
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


class SeedRequest(_Seed):
    users: list[UserSeed] = Field(default_factory=list)
    statuses: list[StatusSeed] = Field(default_factory=list)
    workflows: list[WorkflowSeed] = Field(default_factory=list)
    issue_types: list[IssueTypeSeed] = Field(default_factory=list)
    priorities: list[PrioritySeed] = Field(default_factory=list)
    projects: list[ProjectSeed] = Field(default_factory=list)
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
    if isinstance(request.issues, int):
        project = _project(site, request.project)
        return [i.key for i in generate_issues(site, project, request.issues)]
    return [_add(site, spec).key for spec in request.issues]


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
    now = datetime.now(UTC)
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
    site.add_issue(issue)
    return issue


def _project(site: Site, ref: str) -> Project:
    project = site.project(ref)
    if project is None:
        raise SeedError(f"unknown project {ref!r}")
    return project


def _require(wanted: set[str], existing: Collection[str], kind: str) -> None:
    missing = sorted(wanted - set(existing))
    if missing:
        raise SeedError(f"unknown {kind}: {', '.join(missing)}")
