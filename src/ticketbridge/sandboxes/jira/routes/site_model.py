"""Site objects integrations read: resolutions, each project's components and versions, and the user
search clients call to resolve a watcher (the PyPI `jira` client's `add_watcher` does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.render import component_json, resolution_json, user_json, version_json
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)


@router.get("/resolution", operation_id="getResolutions")
async def resolutions(runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    return [resolution_json(runtime.base, runtime.site, r) for r in runtime.site.resolutions]


@router.get("/project/{projectIdOrKey}/components", operation_id="getProjectComponents")
async def project_components(projectIdOrKey: str, runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    site = runtime.site
    project = site.project(projectIdOrKey)
    if project is None or not project.is_visible_to(user.account_id):
        raise JiraError(404, [f"No project could be found with key '{projectIdOrKey}'."])
    return [component_json(runtime.base, site, c.id) for c in site.components.values() if c.project_id == project.id]


@router.get("/project/{projectIdOrKey}/versions", operation_id="getProjectVersions")
async def project_versions(projectIdOrKey: str, runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    site = runtime.site
    project = site.project(projectIdOrKey)
    if project is None or not project.is_visible_to(user.account_id):
        raise JiraError(404, [f"No project could be found with key '{projectIdOrKey}'."])
    return [version_json(runtime.base, site, v.id) for v in site.versions.values() if v.project_id == project.id]


@router.get("/user/search", operation_id="findUsers")
async def find_users(
    runtime: RuntimeDep,
    user: UserDep,
    query: str | None = None,
    accountId: str | None = None,
    startAt: int = 0,
    maxResults: int = 50,
) -> list[dict[str, Any]]:
    """Active users whose account id is `accountId`, or whose display name, a word of it, or email starts
    with `query` (or whose account id is `query`); one of the two is required, as in Jira."""
    if not query and not accountId:
        raise JiraError(400, ["One of 'accountId' or 'query' must be specified."])
    needle = (query or "").lower()
    found = [
        u
        for u in runtime.site.users.values()
        if u.active
        and (accountId is None or u.account_id == accountId)
        and (
            not needle
            or u.account_id.lower() == needle
            or any(
                part.startswith(needle)
                for part in (u.display_name.lower(), *u.display_name.lower().split(), u.email.lower())
            )
        )
    ]
    return [user_json(runtime.base, u) for u in found[startAt : startAt + max(0, maxResults)]]
