"""Site objects integrations read: resolutions, and each project's components and versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.render import component_json, resolution_json, version_json
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
