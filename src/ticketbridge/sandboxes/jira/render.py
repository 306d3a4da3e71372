"""Jira's JSON shapes for the site's objects; `base` is the site URL used in `self` links."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
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
)

API = "/rest/api/3"
#: Fields returned for `*all`; `*navigable` drops the comment thread.
ALL_FIELDS = (
    "summary",
    "issuetype",
    "project",
    "status",
    "priority",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "description",
    "environment",
    "created",
    "updated",
    "duedate",
    "parent",
    "subtasks",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "comment",
)


def jira_datetime(value: datetime) -> str:
    """Jira's format: milliseconds and an offset without a colon, e.g. 2021-01-17T12:34:00.000+0000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def avatar_urls(base: str, kind: str, ident: str) -> dict[str, str]:
    return {size: f"{base}/secure/{kind}avatar?size={size}&id={ident}" for size in ("48x48", "24x24", "16x16", "32x32")}


def user_json(base: str, user: User) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/user?accountId={user.account_id}",
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": avatar_urls(base, "user", user.account_id),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone,
    }


def status_json(base: str, status: Status) -> dict[str, Any]:
    category = status.category
    return {
        "self": f"{base}{API}/status/{status.id}",
        "description": status.description,
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": f"{base}{API}/statuscategory/{category.id}",
            "id": category.id,
            "key": category.key,
            "colorName": category.color_name,
            "name": category.name,
        },
    }


def priority_json(base: str, priority: Priority) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/priority/{priority.id}",
        "statusColor": priority.status_color,
        "description": priority.description,
        "iconUrl": f"{base}/images/icons/priorities/{priority.name.lower()}.svg",
        "name": priority.name,
        "id": priority.id,
    }


def issuetype_json(base: str, issue_type: IssueType) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/issuetype/{issue_type.id}",
        "id": issue_type.id,
        "description": issue_type.description,
        "iconUrl": f"{base}/images/icons/issuetypes/{issue_type.name.lower()}.png",
        "name": issue_type.name,
        "subtask": issue_type.subtask,
        "avatarId": 10300,
        "hierarchyLevel": issue_type.hierarchy_level,
    }


def project_json(base: str, site: Site, project: Project, expand: Collection[str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": f"{base}{API}/project/{project.id}",
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "avatarUrls": avatar_urls(base, "project", project.id),
        "projectTypeKey": project.project_type_key,
        "simplified": False,
        "style": "classic",
        "isPrivate": project.members is not None,
        "properties": {},
    }
    if "issueTypes" in expand or "issuetypes" in expand:
        body["issueTypes"] = [issuetype_json(base, site.issue_types[t]) for t in project.issuetype_ids]
    if "lead" in expand:
        body["lead"] = user_json(base, site.users[project.lead_account_id])
    return body


def transition_json(base: str, site: Site, transition: Transition) -> dict[str, Any]:
    return {
        "id": str(transition.id),
        "name": transition.name,
        "to": status_json(base, site.statuses[transition.to_status_id]),
        "hasScreen": False,
        "isGlobal": not transition.from_status_ids,
        "isInitial": False,
        "isAvailable": True,
        "isConditional": False,
        # Live Cloud answers carry `isLooped`, although the schema names it `looped`.
        "isLooped": False,
    }


def comment_json(base: str, site: Site, issue: Issue, comment: Comment) -> dict[str, Any]:
    author = user_json(base, site.users[comment.author_account_id])
    return {
        "self": f"{base}{API}/issue/{issue.id}/comment/{comment.id}",
        "id": str(comment.id),
        "author": author,
        "updateAuthor": author,
        "body": comment.body,
        "created": jira_datetime(comment.created),
        "updated": jira_datetime(comment.updated),
        "jsdPublic": True,
    }


def select_fields(requested: list[str] | None, default: str) -> set[str]:
    """Resolves Jira's `fields` parameter: names, `*all`, `*navigable` and `-name` exclusions."""
    items = [f.strip() for raw in (requested or [default]) for f in raw.split(",") if f.strip()]
    chosen: set[str] = set()
    for item in items:
        if item == "*all":
            chosen.update(ALL_FIELDS)
        elif item == "*navigable":
            chosen.update(f for f in ALL_FIELDS if f != "comment")
    chosen.update(f for f in items if not f.startswith(("*", "-")))
    chosen.difference_update(f[1:] for f in items if f.startswith("-"))
    return chosen


def issue_json(base: str, site: Site, issue: Issue, fields: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": str(issue.id),
        "self": f"{base}{API}/issue/{issue.id}",
        "key": issue.key,
    }
    values = {name: _field_value(base, site, issue, name) for name in fields if name in ALL_FIELDS}
    if values:
        body["fields"] = values
    return body


def _field_value(base: str, site: Site, issue: Issue, name: str) -> Any:
    status = site.statuses[issue.status_id]
    match name:
        case "summary":
            return issue.summary
        case "issuetype":
            return issuetype_json(base, site.issue_types[issue.issuetype_id])
        case "project":
            return project_json(base, site, site.projects[issue.project_id])
        case "status":
            return status_json(base, status)
        case "priority":
            return priority_json(base, site.priorities[issue.priority_id]) if issue.priority_id else None
        case "assignee":
            return _user_or_none(base, site, issue.assignee_account_id)
        case "reporter" | "creator":
            return _user_or_none(base, site, issue.reporter_account_id)
        case "labels":
            return list(issue.labels)
        case "description":
            return issue.description
        case "environment":
            return issue.environment
        case "created":
            return jira_datetime(issue.created)
        case "updated":
            return jira_datetime(issue.updated)
        case "statuscategorychangedate":
            return jira_datetime(issue.status_changed)
        case "duedate":
            return issue.duedate
        case "resolution":
            return _resolution(base) if status.category_key == "done" else None
        case "resolutiondate":
            return jira_datetime(issue.status_changed) if status.category_key == "done" else None
        case "parent":
            return _parent_json(base, site, issue.parent_id) if issue.parent_id else None
        case "subtasks":
            return [_parent_json(base, site, child_id) for child_id in site.subtask_ids.get(issue.id, ())]
        case "comment":
            comments = [comment_json(base, site, issue, c) for c in issue.comments or ()]
            return {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}
    raise AssertionError(name)


def _user_or_none(base: str, site: Site, account_id: str | None) -> dict[str, Any] | None:
    return user_json(base, site.users[account_id]) if account_id else None


def _resolution(base: str) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/resolution/10000",
        "id": "10000",
        "description": "Work has been completed.",
        "name": "Done",
    }


def _parent_json(base: str, site: Site, issue_id: int) -> dict[str, Any]:
    parent = site.issues[issue_id]
    return {
        "id": str(parent.id),
        "key": parent.key,
        "self": f"{base}{API}/issue/{parent.id}",
        "fields": {
            "summary": parent.summary,
            "status": status_json(base, site.statuses[parent.status_id]),
            "priority": priority_json(base, site.priorities[parent.priority_id]) if parent.priority_id else None,
            "issuetype": issuetype_json(base, site.issue_types[parent.issuetype_id]),
        },
    }
