"""Optional SQLite file behind a site, so a demo keeps its data across restarts.

The configuration objects are small and saved whole as one JSON row; issues are rows of their own,
written only when changed (`Site.dirty_issue_ids`), so a write to a 100k-issue site stays cheap.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ticketbridge.sandboxes.jira.state import (
    Comment,
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
    }


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
    return site


def _issue_json(issue: Issue) -> dict[str, Any]:
    data = {name: getattr(issue, name) for name in Issue.__dataclass_fields__ if name not in {"doc", "comments"}}
    data.update({name: getattr(issue, name).isoformat() for name in ISSUE_DATES})
    data["comments"] = [
        asdict(c) | {"created": c.created.isoformat(), "updated": c.updated.isoformat()} for c in issue.comments or ()
    ]
    return data


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
    return Issue(**data, comments=comments or None)
