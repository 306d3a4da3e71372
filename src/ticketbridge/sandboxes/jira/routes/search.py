"""`/search/jql` (GET and POST), the approximate count, and the removed `/search` answering 410."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.catalog import issue_view, names_json, schemas_json
from ticketbridge.sandboxes.jira.errors import JiraError, JiraJSONResponse
from ticketbridge.sandboxes.jira.render import parse_expand, select_fields
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep
from ticketbridge.sandboxes.jira.search import matching_ids, page
from ticketbridge.sandboxes.jira.state import User

router = APIRouter(route_class=JiraRoute)
#: Served at the site root: the legacy search is gone from v2 and v3 alike.
removed_router = APIRouter(route_class=JiraRoute)

REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
DEFAULT_MAX_RESULTS = 50
#: Jira returns up to 5000 issues per page when only ids or keys are asked for, fewer otherwise.
MAX_RESULTS_IDS_ONLY = 5000
MAX_RESULTS_WITH_FIELDS = 100
MAX_RECONCILE = 50
POST_KEYS = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "failFast",
        "reconcileIssues",
    }
)


def _search(
    runtime: Runtime,
    user: User,
    jql: str,
    token: str | None,
    max_results: int | None,
    fields: list[str] | None,
    reconcile: list[int] | None,
    expand: str | None = None,
) -> dict[str, Any]:
    if reconcile and len(reconcile) > MAX_RECONCILE:
        raise JiraError(400, [f"reconcileIssues accepts at most {MAX_RECONCILE} issue ids."])
    chosen = select_fields(_with_default_base(fields), "id")
    cap = MAX_RESULTS_IDS_ONLY if chosen <= {"id", "key"} else MAX_RESULTS_WITH_FIELDS
    wanted = DEFAULT_MAX_RESULTS if max_results is None else max_results
    if wanted < 0:
        raise JiraError(400, ["maxResults must not be negative."])
    found, next_token = page(runtime, user, jql, token, min(wanted, cap), reconcile or (), chosen)
    expanded = parse_expand(expand)
    # names and schema come once for the page, not per issue, as in Jira's SearchAndReconcileResults.
    per_issue = expanded - {"names", "schema"}
    issues = [issue_view(runtime.base, runtime.site, issue, chosen, per_issue, user.account_id) for issue in found]
    body: dict[str, Any] = {"issues": issues, "isLast": next_token is None}
    if next_token is not None:
        body["nextPageToken"] = next_token
    shown = list(dict.fromkeys(f for i in issues for f in i.get("fields") or i.get("versionedRepresentations") or ()))
    if "names" in expanded:
        body["names"] = names_json(runtime.site, shown)
    if "schema" in expanded:
        body["schema"] = schemas_json(runtime.site, shown)
    return body


def _with_default_base(fields: list[str] | None) -> list[str] | None:
    """`-description` alone means every navigable field but the description, as the document says."""
    items = [f.strip() for raw in fields or () for f in raw.split(",") if f.strip()]
    if items and all(f.startswith("-") for f in items):
        return ["*navigable", *items]
    return fields


@router.get("/search/jql", operation_id="searchAndReconsileIssuesUsingJql")
async def search_get(
    runtime: RuntimeDep,
    user: UserDep,
    jql: str = "",
    nextPageToken: str | None = None,
    maxResults: int | None = None,
    fields: Annotated[list[str] | None, Query()] = None,
    reconcileIssues: Annotated[list[int] | None, Query()] = None,
    expand: str | None = None,
) -> dict[str, Any]:
    return _search(runtime, user, jql, nextPageToken, maxResults, fields, reconcileIssues, expand)


@router.post("/search/jql", operation_id="searchAndReconsileIssuesUsingJqlPost")
async def search_post(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object."])
    unknown = sorted(set(body) - POST_KEYS)
    if unknown:
        raise JiraError(400, [f'Unrecognized field "{unknown[0]}".'])
    jql, token, max_results = body.get("jql") or "", body.get("nextPageToken"), body.get("maxResults")
    fields, reconcile = body.get("fields"), body.get("reconcileIssues")
    if not isinstance(jql, str) or not (max_results is None or isinstance(max_results, int)):
        raise JiraError(400, ["jql must be a string and maxResults an integer."])
    if not (fields is None or (isinstance(fields, list) and all(isinstance(f, str) for f in fields))):
        raise JiraError(400, ["fields must be an array of strings."])
    if not (reconcile is None or (isinstance(reconcile, list) and all(type(i) is int for i in reconcile))):
        raise JiraError(400, ["reconcileIssues must be an array of issue ids."])
    expand = body.get("expand")
    if not (expand is None or isinstance(expand, str)):
        raise JiraError(400, ["expand must be a comma-separated string."])
    return _search(runtime, user, jql, token, max_results, fields, reconcile, expand)


@router.post("/search/approximate-count", operation_id="countIssues")
async def count(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, int]:
    jql = body.get("jql") if isinstance(body, dict) else None
    if not isinstance(jql, str):
        raise JiraError(400, ["jql is required."])
    return {"count": len(matching_ids(runtime, user, jql))}


def _removed() -> JiraJSONResponse:
    return JiraJSONResponse({"errorMessages": [REMOVED], "errors": {}}, status_code=410)


@removed_router.get("/rest/api/{version}/search", operation_id="searchForIssuesUsingJql")
async def removed_get(version: str) -> JiraJSONResponse:
    return _removed()


@removed_router.post("/rest/api/{version}/search", operation_id="searchForIssuesUsingJqlPost")
async def removed_post(version: str) -> JiraJSONResponse:
    return _removed()
