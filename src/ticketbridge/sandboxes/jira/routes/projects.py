"""Projects and what can be created in them: search, get, statuses, createmeta, issue types per project."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.catalog import create_fields
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.render import API, avatar_urls, issuetype_json, project_json, status_json
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep
from ticketbridge.sandboxes.jira.state import Project, Site, User

router = APIRouter(route_class=JiraRoute)
PROJECT_PAGE_MAX = 100
CREATEMETA_MAX = 200
ListQuery = Annotated[list[str] | None, Query()]


def visible_project(site: Site, user: User, id_or_key: str) -> Project:
    project = site.project(id_or_key)
    if project is None or not project.is_visible_to(user.account_id):
        raise JiraError(404, [f"No project could be found with key '{id_or_key}'."])
    return project


def _expand(expand: str | None) -> set[str]:
    return {e.strip() for e in (expand or "").split(",") if e.strip()}


@router.get("/project/search", operation_id="searchProjects")
async def search_projects(
    runtime: RuntimeDep,
    user: UserDep,
    startAt: int = 0,
    maxResults: int = 50,
    query: str | None = None,
    keys: Annotated[list[str] | None, Query()] = None,
    typeKey: str | None = None,
    expand: str | None = None,
) -> dict[str, Any]:
    """Page bean ordered by key; `maxResults` above 100 means 100; 404 when nothing matches."""
    size = min(max(maxResults, 1), PROJECT_PAGE_MAX)
    needle = (query or "").lower()
    types = set((typeKey or "").split(",")) - {""}
    matching = sorted(
        (
            p
            for p in runtime.site.visible_projects(user.account_id)
            if (not needle or needle in p.key.lower() or needle in p.name.lower())
            and (not keys or p.key in keys)
            and (not types or p.project_type_key in types)
        ),
        key=lambda p: p.key,
    )
    if not matching:
        raise JiraError(404, ["No projects matching the search criteria were found."])
    page = matching[startAt : startAt + size]
    link = f"{runtime.base}{API}/project/search?"
    body: dict[str, Any] = {
        "self": link + urlencode({"startAt": startAt, "maxResults": size}),
        "maxResults": size,
        "startAt": startAt,
        "total": len(matching),
        "isLast": startAt + size >= len(matching),
        "values": [project_json(runtime.base, runtime.site, p, _expand(expand)) for p in page],
    }
    if not body["isLast"]:
        body["nextPage"] = link + urlencode({"startAt": startAt + size, "maxResults": size})
    return body


@router.get("/project", operation_id="getAllProjects")
async def all_projects(runtime: RuntimeDep, user: UserDep, expand: str | None = None) -> list[dict[str, Any]]:
    chosen = _expand(expand)
    return [project_json(runtime.base, runtime.site, p, chosen) for p in runtime.site.visible_projects(user.account_id)]


@router.get("/project/{projectIdOrKey}", operation_id="getProject")
async def get_project(
    projectIdOrKey: str, runtime: RuntimeDep, user: UserDep, expand: str | None = None
) -> dict[str, Any]:
    project = visible_project(runtime.site, user, projectIdOrKey)
    return project_json(runtime.base, runtime.site, project, _expand(expand) | {"issueTypes", "lead"})


@router.get("/project/{projectIdOrKey}/statuses", operation_id="getAllStatuses")
async def project_statuses(projectIdOrKey: str, runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    site = runtime.site
    project = visible_project(site, user, projectIdOrKey)
    statuses = [status_json(runtime.base, site.statuses[s]) for s in site.workflows[project.workflow_id].status_ids]
    return [
        {
            "self": f"{runtime.base}{API}/issueType/{t}",
            "id": t,
            "name": site.issue_types[t].name,
            "subtask": site.issue_types[t].subtask,
            "statuses": statuses,
        }
        for t in project.issuetype_ids
    ]


def _list_param(values: list[str] | None) -> set[str]:
    return {v.strip() for raw in values or () for v in raw.split(",") if v.strip()}


@router.get("/issue/createmeta", operation_id="getCreateIssueMeta")
async def createmeta(
    runtime: RuntimeDep,
    user: UserDep,
    projectIds: ListQuery = None,
    projectKeys: ListQuery = None,
    issuetypeIds: ListQuery = None,
    issuetypeNames: ListQuery = None,
    expand: str | None = None,
) -> dict[str, Any]:
    """The deprecated create metadata of every visible project (or those asked for), without errors for
    unknown projects or issue types; the create-screen fields with `expand=projects.issuetypes.fields`."""
    site, base = runtime.site, runtime.base
    ids, keys = _list_param(projectIds), {k.upper() for k in _list_param(projectKeys)}
    type_ids, type_names = _list_param(issuetypeIds), _list_param(issuetypeNames)
    with_fields = "projects.issuetypes.fields" in _expand(expand)
    projects = []
    for project in site.visible_projects(user.account_id):
        if (ids or keys) and project.id not in ids and project.key not in keys:
            continue
        types = []
        for type_id in project.issuetype_ids:
            issue_type = site.issue_types[type_id]
            if (type_ids or type_names) and type_id not in type_ids and issue_type.name not in type_names:
                continue
            meta = issuetype_json(base, issue_type) | {"expand": "fields"}
            if with_fields:
                meta["fields"] = {
                    f["fieldId"]: {k: v for k, v in f.items() if k != "fieldId"}
                    for f in create_fields(site, base, issue_type, project)
                }
            types.append(meta)
        projects.append(
            {
                "expand": "issuetypes",
                "self": f"{base}{API}/project/{project.id}",
                "id": project.id,
                "key": project.key,
                "name": project.name,
                "avatarUrls": avatar_urls(base, "project", project.id),
                "issuetypes": types,
            }
        )
    return {"expand": "projects", "projects": projects}


@router.get("/issue/createmeta/{projectIdOrKey}/issuetypes", operation_id="getCreateIssueMetaIssueTypes")
async def createmeta_issue_types(
    projectIdOrKey: str, runtime: RuntimeDep, user: UserDep, startAt: int = 0, maxResults: int = 50
) -> dict[str, Any]:
    if maxResults > CREATEMETA_MAX:
        raise JiraError(400, [f"Parameter 'maxResults' must not exceed the limit '{CREATEMETA_MAX}'"])
    site = runtime.site
    project = visible_project(site, user, projectIdOrKey)
    types = [issuetype_json(runtime.base, site.issue_types[t]) for t in project.issuetype_ids]
    return {
        "startAt": startAt,
        "maxResults": maxResults,
        "total": len(types),
        "issueTypes": types[startAt : startAt + maxResults],
    }


@router.get(
    "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    operation_id="getCreateIssueMetaIssueTypeId",
)
async def createmeta_fields(
    projectIdOrKey: str,
    issueTypeId: str,
    runtime: RuntimeDep,
    user: UserDep,
    startAt: int = 0,
    maxResults: int = 50,
) -> dict[str, Any]:
    if maxResults > CREATEMETA_MAX:
        raise JiraError(400, [f"Parameter 'maxResults' must not exceed the limit '{CREATEMETA_MAX}'"])
    site = runtime.site
    project = visible_project(site, user, projectIdOrKey)
    if issueTypeId not in project.issuetype_ids:
        raise JiraError(400, ["The issue type selected is invalid."])
    fields = create_fields(site, runtime.base, site.issue_types[issueTypeId], project)
    return {
        "startAt": startAt,
        "maxResults": maxResults,
        "total": len(fields),
        "fields": fields[startAt : startAt + maxResults],
    }


@router.get("/issuetype/project", operation_id="getIssueTypesForProject")
async def issue_types_for_project(
    projectId: int, runtime: RuntimeDep, user: UserDep, level: int | None = None
) -> list[dict[str, Any]]:
    site = runtime.site
    project = visible_project(site, user, str(projectId))
    return [
        issuetype_json(runtime.base, site.issue_types[t])
        | {"scope": {"type": "PROJECT", "project": {"id": project.id}}}
        for t in project.issuetype_ids
        if level is None or site.issue_types[t].hierarchy_level == level
    ]
