"""Single site objects by id, as clients look them up after a list: priority, status (by id or name),
resolution, issue type, component and version (those of projects the caller cannot browse are not
found), and one comment of an issue (get, edit, delete).

Jira documents the 404s of these reads but not their text; the messages here are the ones its REST
resources are seen to answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.comments import delete_comment, edit_comment, find_comment
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.issues import visible_issue
from ticketbridge.sandboxes.jira.render import (
    comment_json,
    component_json,
    issuetype_json,
    priority_json,
    resolution_json,
    status_json,
    version_json,
)
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)


@router.get("/priority/{id}", operation_id="getPriority")
async def priority(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    found = runtime.site.priorities.get(id)
    if found is None:
        raise JiraError(404, [f"The priority with ID '{id}' does not exist."])
    return priority_json(runtime.base, found)


@router.get("/status/{idOrName}", operation_id="getStatus")
async def status(idOrName: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    statuses = runtime.site.statuses.values()
    found = next((s for s in statuses if idOrName in (s.id, s.name) or idOrName.lower() == s.name.lower()), None)
    if found is None:
        raise JiraError(404, [f"The status with id or name '{idOrName}' does not exist."])
    return status_json(runtime.base, found)


@router.get("/resolution/{id}", operation_id="getResolution")
async def resolution(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    if id not in runtime.site.resolutions:
        raise JiraError(404, [f"The resolution with ID '{id}' does not exist."])
    return resolution_json(runtime.base, runtime.site, id)


@router.get("/issuetype/{id}", operation_id="getIssueType")
async def issue_type(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    found = runtime.site.issue_types.get(id)
    if found is None:
        raise JiraError(404, [f"The issue type with ID '{id}' does not exist."])
    return issuetype_json(runtime.base, found)


@router.get("/component/{id}", operation_id="getComponent")
async def component(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    site = runtime.site
    found = site.components.get(id)
    if found is None or not site.projects[found.project_id].is_visible_to(user.account_id):
        raise JiraError(404, [f"The component with id {id} does not exist."])
    return component_json(runtime.base, site, id)


@router.get("/version/{id}", operation_id="getVersion")
async def version(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    site = runtime.site
    found = site.versions.get(id)
    if found is None or not site.projects[found.project_id].is_visible_to(user.account_id):
        raise JiraError(404, [f"Could not find version for id '{id}'"])
    return version_json(runtime.base, site, id)


@router.get("/issue/{issueIdOrKey}/comment/{id}", operation_id="getComment")
async def comment(issueIdOrKey: str, id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    return comment_json(runtime.base, runtime.site, issue, find_comment(issue, id))


@router.put("/issue/{issueIdOrKey}/comment/{id}", operation_id="updateComment")
async def update_comment(
    issueIdOrKey: str, id: str, body: BodyDep, runtime: RuntimeDep, user: UserDep
) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    found = find_comment(issue, id)
    edit_comment(runtime.site, issue, found, body)
    return comment_json(runtime.base, runtime.site, issue, found)


@router.delete("/issue/{issueIdOrKey}/comment/{id}", operation_id="deleteComment", status_code=204)
async def remove_comment(issueIdOrKey: str, id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    delete_comment(runtime.site, issue, find_comment(issue, id))
    return Response(status_code=204)
