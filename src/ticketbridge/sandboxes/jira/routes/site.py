"""Site-wide reads: server info, the caller, users, priorities, statuses, fields, issue types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.catalog import all_fields, field_json
from ticketbridge.sandboxes.jira.errors import ISSUE_NOT_FOUND, JiraError
from ticketbridge.sandboxes.jira.render import (
    issuetype_json,
    jira_datetime,
    priority_json,
    status_json,
    user_json,
)
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep
from ticketbridge.sandboxes.jira.state import CATEGORIES

router = APIRouter(route_class=JiraRoute)
#: Jira searches users within its first 1000 only.
USER_WINDOW = 1000
VERSION = "1001.0.0-SNAPSHOT"


@router.get("/serverInfo", operation_id="getServerInfo")
async def server_info(runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "baseUrl": runtime.base,
        "version": VERSION,
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100300,
        "buildDate": "2026-11-01T00:00:00.000+0000",
        "serverTime": jira_datetime(datetime.now(UTC)),
        "scmInfo": "32b43b28d3f0c3ee7f2535b395e90b205ac3bc6f",
        "serverTitle": "Jira",
        "serverTimeZone": "Etc/UTC",
    }


@router.get("/myself", operation_id="getCurrentUser")
async def myself(runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    return user_json(runtime.base, user) | {
        "groups": {"size": 1, "items": []},
        "applicationRoles": {"size": 1, "items": []},
    }


@router.get("/user/assignable/search", operation_id="findAssignableUsers")
async def assignable_users(
    runtime: RuntimeDep,
    user: UserDep,
    project: str | None = None,
    issueKey: str | None = None,
    issueId: str | None = None,
    query: str | None = None,
    accountId: str | None = None,
    startAt: int = 0,
    maxResults: int = 50,
) -> list[dict[str, Any]]:
    """A bare array; `query` is a prefix of the display name or email, like Jira's."""
    site = runtime.site
    if issueId is not None and not issueId.isdigit():
        raise JiraError(400, [f"The issue ID '{issueId}' is not valid."])
    issue_ref = issueKey or issueId
    if issue_ref is not None:
        issue = site.issue(issue_ref)
        if issue is None or not site.projects[issue.project_id].is_visible_to(user.account_id):
            raise JiraError(404, [ISSUE_NOT_FOUND])
        target = site.projects[issue.project_id]
    elif project is not None:
        found = site.project(project)
        if found is None or not found.is_visible_to(user.account_id):
            raise JiraError(404, [f"No project could be found with key '{project}'."])
        target = found
    else:
        raise JiraError(400, ["One of the following parameters must be provided: project, issueKey, issueId."])
    window = list(site.users.values())[startAt : min(startAt + maxResults, USER_WINDOW)]
    needle = (query or "").lower()
    return [
        user_json(runtime.base, u)
        for u in window
        if target.is_visible_to(u.account_id)
        and (accountId is None or u.account_id == accountId)
        and any(part.startswith(needle) for part in (*u.display_name.lower().split(), u.email.lower()))
    ]


@router.get("/user/assignable/multiProjectSearch", operation_id="findBulkAssignableUsers")
async def assignable_in_projects(
    runtime: RuntimeDep,
    user: UserDep,
    projectKeys: str | None = None,
    query: str | None = None,
    accountId: str | None = None,
    startAt: int = 0,
    maxResults: int = 50,
) -> list[dict[str, Any]]:
    """The users assignable in every one of `projectKeys` (comma-separated, required)."""
    site = runtime.site
    keys = [k.strip() for k in (projectKeys or "").split(",") if k.strip()]
    if not keys:
        raise JiraError(400, ["The 'projectKeys' parameter is required."])
    projects = []
    for key in keys:
        found = site.project(key)
        if found is None or not found.is_visible_to(user.account_id):
            raise JiraError(404, [f"No project could be found with key '{key}'."])
        projects.append(found)
    window = list(site.users.values())[startAt : min(startAt + maxResults, USER_WINDOW)]
    needle = (query or "").lower()
    return [
        user_json(runtime.base, u)
        for u in window
        if all(p.is_visible_to(u.account_id) for p in projects)
        and (accountId is None or u.account_id == accountId)
        and any(part.startswith(needle) for part in (*u.display_name.lower().split(), u.email.lower()))
    ]


@router.get("/priority", operation_id="getPriorities")
async def priorities(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [priority_json(runtime.base, p) for p in runtime.site.priorities.values()]


@router.get("/status", operation_id="getStatuses")
async def statuses(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [status_json(runtime.base, s) for s in runtime.site.statuses.values()]


@router.get("/statuscategory", operation_id="getStatusCategories")
async def status_categories(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [
        {
            "self": f"{runtime.base}/rest/api/3/statuscategory/{c.id}",
            "id": c.id,
            "key": c.key,
            "colorName": c.color_name,
            "name": c.name,
        }
        for c in CATEGORIES.values()
    ]


@router.get("/field", operation_id="getFields")
async def fields(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [field_json(f) for f in all_fields(runtime.site)]


@router.get("/issuetype", operation_id="getIssueAllTypes")
async def issue_types(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [issuetype_json(runtime.base, t) for t in runtime.site.issue_types.values()]
