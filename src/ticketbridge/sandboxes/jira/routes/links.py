"""Issue links and link types, and an issue's watchers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.issues import visible_issue
from ticketbridge.sandboxes.jira.relations import add_watcher, delete_link, link_issues, remove_watcher, visible_link
from ticketbridge.sandboxes.jira.render import API, issue_link_json, link_type_json, user_json
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)


@router.post("/issueLink", operation_id="linkIssues", status_code=201)
async def create_link(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> Response:
    """201 with an empty body, as Jira answers; the new link is found on both issues' `issuelinks`."""
    link = link_issues(runtime.site, user, body)
    return Response(status_code=201, headers={"Location": f"{runtime.base}{API}/issueLink/{link.id}"})


@router.get("/issueLink/{linkId}", operation_id="getIssueLink")
async def get_link(linkId: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    return issue_link_json(runtime.base, runtime.site, visible_link(runtime.site, user, linkId))


@router.delete("/issueLink/{linkId}", operation_id="deleteIssueLink", status_code=204)
async def remove_link(linkId: str, runtime: RuntimeDep, user: UserDep) -> Response:
    delete_link(runtime.site, user, visible_link(runtime.site, user, linkId))
    return Response(status_code=204)


@router.get("/issueLinkType", operation_id="getIssueLinkTypes")
async def link_types(runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    return {"issueLinkTypes": [link_type_json(runtime.base, t) for t in runtime.site.link_types.values()]}


@router.get("/issueLinkType/{issueLinkTypeId}", operation_id="getIssueLinkType")
async def get_link_type(issueLinkTypeId: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    found = runtime.site.link_types.get(issueLinkTypeId)
    if found is None:
        raise JiraError(404, [f"No issue link type with id '{issueLinkTypeId}' found."])
    return link_type_json(runtime.base, found)


@router.get("/issue/{issueIdOrKey}/watchers", operation_id="getIssueWatchers")
async def watchers(issueIdOrKey: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    site = runtime.site
    issue = visible_issue(site, user, issueIdOrKey)
    return {
        "self": f"{runtime.base}{API}/issue/{issue.key}/watchers",
        "isWatching": user.account_id in issue.watcher_ids,
        "watchCount": len(issue.watcher_ids),
        "watchers": [user_json(runtime.base, site.users[w]) for w in issue.watcher_ids if w in site.users],
    }


@router.post("/issue/{issueIdOrKey}/watchers", operation_id="addWatcher", status_code=204)
async def watch(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> Response:
    add_watcher(runtime.site, user, visible_issue(runtime.site, user, issueIdOrKey), body)
    return Response(status_code=204)


@router.delete("/issue/{issueIdOrKey}/watchers", operation_id="removeWatcher", status_code=204)
async def unwatch(issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, accountId: str | None = None) -> Response:
    remove_watcher(runtime.site, visible_issue(runtime.site, user, issueIdOrKey), accountId)
    return Response(status_code=204)
