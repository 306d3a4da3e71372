"""Optional SQLite file behind a site, so a demo keeps its data across restarts.

The configuration objects are small and saved whole as one JSON row; issues are rows of their own,
written only when changed (`Site.dirty_issue_ids`), so a write to a 100k-issue site stays cheap.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ticketbridge.sandboxes.jira import history
from ticketbridge.sandboxes.jira.state import (
    Attachment,
    Comment,
    Component,
    CustomField,
    FieldOption,
    Issue,
    IssueLink,
    IssueType,
    LinkType,
    Priority,
    Project,
    Resolution,
    Site,
    Sprint,
    Status,
    Transition,
    User,
    Version,
    Workflow,
    Worklog,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS site (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS issue (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
"""
ISSUE_DATES = ("created", "updated", "status_changed")


class SiteStore:
    def __init__(self, path: Path) -> None:
        # Requests of a standalone server may run on worker threads; the sandbox serializes writes.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)

    def load(self) -> Site | None:
        row = self._db.execute("SELECT data FROM site WHERE id = 1").fetchone()
        if row is None:
            return None
        site = _site_from_json(json.loads(row[0]))
        for (data,) in self._db.execute("SELECT data FROM issue ORDER BY id"):
            site.add_issue(_issue_from_json(json.loads(data)))
        site.dirty_issue_ids.clear()
        return site

    def save(self, site: Site) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO site (id, data) VALUES (1, ?)", (json.dumps(_site_json(site)),))
            self._db.executemany(
                "INSERT OR REPLACE INTO issue (id, data) VALUES (?, ?)",
                ((i, json.dumps(_issue_json(site.issues[i]))) for i in site.dirty_issue_ids if i in site.issues),
            )
            self._db.executemany("DELETE FROM issue WHERE id = ?", ((i,) for i in site.removed_issue_ids))
        site.dirty_issue_ids.clear()
        site.removed_issue_ids.clear()

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM site")
            self._db.execute("DELETE FROM issue")


def _site_json(site: Site) -> dict[str, Any]:
    projects = [
        asdict(p) | {"members": sorted(p.members) if p.members is not None else None} for p in site.projects.values()
    ]
    return {
        "statuses": [asdict(s) for s in site.statuses.values()],
        "issue_types": [asdict(t) for t in site.issue_types.values()],
        "priorities": [asdict(p) for p in site.priorities.values()],
        "users": [asdict(u) for u in site.users.values()],
        "projects": projects,
        "workflows": [asdict(w) for w in site.workflows.values()],
        "next_issue_id": site.next_issue_id,
        "next_comment_id": site.next_comment_id,
        "model": _model_json(site),
    }


_COUNTERS = (
    "next_changelog_id",
    "next_link_id",
    "next_attachment_id",
    "next_worklog_id",
    "next_object_id",
    "next_custom_field_number",
)


def _model_json(site: Site) -> dict[str, Any]:
    """Resolutions, components, versions, sprints, links, attachments, custom fields, groups."""
    return {
        "resolutions": [asdict(r) for r in site.resolutions.values()],
        "components": [asdict(c) for c in site.components.values()],
        "versions": [asdict(v) for v in site.versions.values()],
        "sprints": [asdict(s) for s in site.sprints.values()],
        "link_types": [asdict(t) for t in site.link_types.values()],
        "links": [asdict(link) for link in site.links.values()],
        "attachments": [
            asdict(a) | {"created": a.created.isoformat(), "content": base64.b64encode(a.content).decode()}
            for a in site.attachments.values()
        ],
        "custom_fields": [
            asdict(f)
            | {
                "project_ids": sorted(f.project_ids) if f.project_ids is not None else None,
                "required": sorted(([p, t] for p, t in f.required), key=str),
            }
            for f in site.custom_fields.values()
        ],
        "groups": {name: sorted(members) for name, members in site.groups.items()},
        "counters": {name: getattr(site, name) for name in _COUNTERS},
    }


def _load_model(site: Site, data: dict[str, Any] | None) -> None:
    if data is None:  # a file written before the site model had these
        return
    site.resolutions = {r["id"]: Resolution(**r) for r in data["resolutions"]}
    site.components = {c["id"]: Component(**c) for c in data["components"]}
    site.versions = {v["id"]: Version(**v) for v in data["versions"]}
    site.sprints = {s["id"]: Sprint(**s) for s in data["sprints"]}
    site.link_types = {t["id"]: LinkType(**t) for t in data["link_types"]}
    site.links = {link["id"]: IssueLink(**link) for link in data["links"]}
    for raw in data["attachments"]:
        raw |= {"created": datetime.fromisoformat(raw["created"]), "content": base64.b64decode(raw["content"])}
        site.attachments[raw["id"]] = Attachment(**raw)
    for raw in data["custom_fields"]:
        options = [FieldOption(**o) for o in raw.pop("options")]
        project_ids = raw.pop("project_ids")
        required = frozenset((p, t) for p, t in raw.pop("required"))
        site.custom_fields[raw["id"]] = CustomField(
            **raw,
            options=options,
            project_ids=frozenset(project_ids) if project_ids is not None else None,
            required=required,
        )
    site.groups = {name: set(members) for name, members in data["groups"].items()}
    for name, value in data["counters"].items():
        setattr(site, name, value)


def _site_from_json(data: dict[str, Any]) -> Site:
    site = Site(next_issue_id=data["next_issue_id"], next_comment_id=data["next_comment_id"])
    site.statuses = {s["id"]: Status(**s) for s in data["statuses"]}
    site.issue_types = {t["id"]: IssueType(**t) for t in data["issue_types"]}
    site.priorities = {p["id"]: Priority(**p) for p in data["priorities"]}
    site.users = {u["account_id"]: User(**u) for u in data["users"]}
    for raw in data["projects"]:
        members = raw.pop("members")
        project = Project(**raw, members=frozenset(members) if members is not None else None)
        site.projects[project.id] = project
    for raw in data["workflows"]:
        transitions = [
            Transition(**(t | {"from_status_ids": tuple(t["from_status_ids"])})) for t in raw.pop("transitions")
        ]
        site.workflows[raw["id"]] = Workflow(**raw, transitions=transitions)
    _load_model(site, data.get("model"))
    return site


def _issue_json(issue: Issue) -> dict[str, Any]:
    data = {name: getattr(issue, name) for name in Issue.__dataclass_fields__ if name not in {"doc", "comments"}}
    data.update({name: getattr(issue, name).isoformat() for name in ISSUE_DATES})
    data["comments"] = [
        asdict(c) | {"created": c.created.isoformat(), "updated": c.updated.isoformat()} for c in issue.comments or ()
    ]
    data["resolved"] = issue.resolved.isoformat() if issue.resolved else None
    data["history"] = history.to_json(issue.history)
    data["worklogs"] = [
        asdict(w) | {name: getattr(w, name).isoformat() for name in ("started", "created", "updated")}
        for w in issue.worklogs
    ]
    return data


_ISSUE_TUPLES = (
    "component_ids",
    "fix_version_ids",
    "affected_version_ids",
    "watcher_ids",
    "attachment_ids",
    "link_ids",
    "sprint_ids",
)


def _issue_from_json(data: dict[str, Any]) -> Issue:
    comments = [
        Comment(
            **(
                c
                | {
                    "created": datetime.fromisoformat(c["created"]),
                    "updated": datetime.fromisoformat(c["updated"]),
                }
            )
        )
        for c in data.pop("comments")
    ]
    data.update({name: datetime.fromisoformat(data[name]) for name in ISSUE_DATES})
    data["labels"] = tuple(data["labels"])
    for name in _ISSUE_TUPLES:
        data[name] = tuple(data.get(name, ()))
    if data.get("resolved"):
        data["resolved"] = datetime.fromisoformat(data["resolved"])
    data["history"] = history.from_json(data.get("history", []))
    data["worklogs"] = tuple(
        Worklog(**(w | {n: datetime.fromisoformat(w[n]) for n in ("started", "created", "updated")}))
        for w in data.get("worklogs", [])
    )
    if data.get("custom"):
        data["custom"] = {k: tuple(v) if isinstance(v, list) else v for k, v in data["custom"].items()}
    return Issue(**data, comments=comments or None)
