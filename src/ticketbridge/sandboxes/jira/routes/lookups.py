"""Single site objects by id, as clients look them up after a list: priority, status (by id or name),
resolution, issue type, component and version (those of projects the caller cannot browse are not
found), and one comment of an issue (get, edit, delete). The object kinds are one table, `LOOKUPS`,
each row served by the same route.

Jira documents the 404s of these reads but not their text; the messages here are the ones its REST
resources are seen to answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Path, Response

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
from ticketbridge.sandboxes.jira.state import Site, Status

router = APIRouter(route_class=JiraRoute)

FoundT = TypeVar("FoundT")


class ProjectObject(Protocol):
    """A site object that belongs to a project (components, versions)."""

    @property
    def project_id(self) -> str: ...


ProjectT = TypeVar("ProjectT", bound=ProjectObject)


@dataclass(frozen=True, slots=True)
class Lookup(Generic[FoundT]):
    """One kind of site object read by id: its route, how it is found for a caller, how it is drawn,
    and Jira's 404 text for a key that finds nothing."""

    #: The path, ending in the one parameter that names the object (`{id}`, `{idOrName}`).
    path: str
    operation_id: str
    #: The route's name, which FastAPI also turns into the operation's summary.
    name: str
    #: (site, caller's account id, key) -> the object, or None when the caller may not see it.
    find: Callable[[Site, str, str], FoundT | None]
    #: (base URL, site, object) -> its JSON.
    render: Callable[[str, Site, FoundT], dict[str, Any]]
    #: The 404 message; `{key}` is the key asked for.
    missing: str

    @property
    def parameter(self) -> str:
        return self.path.rsplit("{", 1)[1].rstrip("}")


def _by_id(objects: Callable[[Site], Mapping[str, FoundT]]) -> Callable[[Site, str, str], FoundT | None]:
    return lambda site, _account_id, key: objects(site).get(key)


def _in_visible_project(
    objects: Callable[[Site], Mapping[str, ProjectT]],
) -> Callable[[Site, str, str], ProjectT | None]:
    """By id, and only in a project the caller can browse (Jira answers 404 for the others)."""

    def find(site: Site, account_id: str, key: str) -> ProjectT | None:
        found = objects(site).get(key)
        return found if found is not None and site.projects[found.project_id].is_visible_to(account_id) else None

    return find


def _status(site: Site, _account_id: str, key: str) -> Status | None:
    """By id or name, the name in any case."""
    statuses = site.statuses.values()
    return next((s for s in statuses if key in (s.id, s.name) or key.lower() == s.name.lower()), None)


LOOKUPS: tuple[Lookup[Any], ...] = (
    Lookup(
        "/priority/{id}",
        "getPriority",
        "priority",
        _by_id(lambda site: site.priorities),
        lambda base, _site, found: priority_json(base, found),
        "The priority with ID '{key}' does not exist.",
    ),
    Lookup(
        "/status/{idOrName}",
        "getStatus",
        "status",
        _status,
        lambda base, _site, found: status_json(base, found),
        "The status with id or name '{key}' does not exist.",
    ),
    Lookup(
        "/resolution/{id}",
        "getResolution",
        "resolution",
        _by_id(lambda site: site.resolutions),
        lambda base, site, found: resolution_json(base, site, found.id),
        "The resolution with ID '{key}' does not exist.",
    ),
    Lookup(
        "/issuetype/{id}",
        "getIssueType",
        "issue_type",
        _by_id(lambda site: site.issue_types),
        lambda base, _site, found: issuetype_json(base, found),
        "The issue type with ID '{key}' does not exist.",
    ),
    Lookup(
        "/component/{id}",
        "getComponent",
        "component",
        _in_visible_project(lambda site: site.components),
        lambda base, site, found: component_json(base, site, found.id),
        "The component with id {key} does not exist.",
    ),
    Lookup(
        "/version/{id}",
        "getVersion",
        "version",
        _in_visible_project(lambda site: site.versions),
        lambda base, site, found: version_json(base, site, found.id),
        "Could not find version for id '{key}'",
    ),
)


def _add_lookup(lookup: Lookup[Any]) -> None:
    """GET `lookup.path` on the router: the object's JSON, or Jira's 404."""

    # The key's default, not its annotation, carries the path parameter's name: annotations are
    # strings here (PEP 563) and could not see `lookup`.
    async def endpoint(runtime: RuntimeDep, user: UserDep, key: str = Path(alias=lookup.parameter)) -> dict[str, Any]:
        found = lookup.find(runtime.site, user.account_id, key)
        if found is None:
            raise JiraError(404, [lookup.missing.format(key=key)])
        return lookup.render(runtime.base, runtime.site, found)

    router.add_api_route(lookup.path, endpoint, methods=["GET"], operation_id=lookup.operation_id, name=lookup.name)


for _lookup in LOOKUPS:
    _add_lookup(_lookup)


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
