"""Issues: create (single and bulk), get, edit, delete, and comments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ticketbridge.sandboxes.jira.adf import NOT_ADF, is_adf
from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.catalog import edit_fields, issue_view
from ticketbridge.sandboxes.jira.errors import ISSUE_NOT_FOUND, JiraError, JiraJSONResponse
from ticketbridge.sandboxes.jira.issues import (
    add_comment,
    create_issue,
    edit_issue,
    validate_create,
    visible_issue,
)
from ticketbridge.sandboxes.jira.render import API, comment_json, issue_json, parse_expand, select_fields
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep
from ticketbridge.sandboxes.jira.state import Issue

router = APIRouter(route_class=JiraRoute)
BULK_CREATE_MAX = 50
BULK_FETCH_MAX = 100
#: The `accountId` that asks for the project's default assignee.
DEFAULT_ASSIGNEE = "-1"
FieldsQuery = Annotated[list[str] | None, Query()]


def _created(runtime: Runtime, issue: Issue) -> dict[str, Any]:
    return {"id": str(issue.id), "key": issue.key, "self": f"{runtime.base}{API}/issue/{issue.id}"}


@router.post("/issue", operation_id="createIssue", status_code=201)
async def create(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    changes = validate_create(runtime.site, user, body)
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    issue = create_issue(runtime.site, user, body, changes)
    created = _created(runtime, issue)
    if body.get("transition") is not None:
        created["transition"] = {"status": 200, "errorCollection": {"errorMessages": [], "errors": {}}}
    return created


@router.post("/issue/bulk", operation_id="createIssues", status_code=201)
async def create_many(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> JiraJSONResponse:
    """201 when any element was created, 400 (same body) when none was; `failedElementNumber` is 0-based.

    A request Jira refuses whole (no `issueUpdates`, none, more than 50) is still a `CreatedIssues` 400:
    every element gets the error (`failedElementNumber` 0 when there is none), so that clients mapping
    errors back to their inputs see each input failed.
    """
    updates = body.get("issueUpdates") if isinstance(body, dict) else None
    refused = _refusal(updates)
    if refused is not None:
        count = len(updates) if isinstance(updates, list) and updates else 1
        errors = [_element_error(n, 400, {"errorMessages": [refused], "errors": {}}) for n in range(count)]
        return JiraJSONResponse({"issues": [], "errors": errors}, status_code=400)
    assert isinstance(updates, list)
    issues, errors = [], []
    for number, element in enumerate(updates):
        try:
            changes = validate_create(runtime.site, user, element)
        except JiraError as exc:
            errors.append(_element_error(number, exc.status, exc.body()))
            continue
        if changes.errors:
            errors.append(_element_error(number, 400, {"errorMessages": [], "errors": changes.errors}))
            continue
        issue = create_issue(runtime.site, user, element, changes)
        issues.append(_created(runtime, issue))
    return JiraJSONResponse({"issues": issues, "errors": errors}, status_code=201 if issues else 400)


def _refusal(updates: Any) -> str | None:
    if not isinstance(updates, list) or not updates:
        return "Request must contain a non-empty 'issueUpdates' array."
    if len(updates) > BULK_CREATE_MAX:
        return f"Bulk create can only create up to {BULK_CREATE_MAX} issues per request."
    return None


def _element_error(number: int, status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "elementErrors": body, "failedElementNumber": number}


@router.post("/issue/bulkfetch", operation_id="bulkFetchIssues")
async def fetch_many(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    """Up to 100 issues; missing or invisible ones are listed in `issueErrors`, not failed."""
    refs = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise JiraError(400, ["issueIdsOrKeys must be a non-empty array of strings."])
    if len(refs) > BULK_FETCH_MAX:
        raise JiraError(400, [f"issueIdsOrKeys must not contain more than {BULK_FETCH_MAX} items."])
    chosen = select_fields(body.get("fields"), "*navigable")
    issues, errors = [], []
    for ref in refs:
        issue = runtime.site.issue(ref)
        if issue is None or not runtime.site.projects[issue.project_id].is_visible_to(user.account_id):
            errors.append({"id": ref, "errorMessage": ISSUE_NOT_FOUND})
        else:
            expand = parse_expand(body.get("expand"))
            issues.append(issue_view(runtime.base, runtime.site, issue, chosen, expand, user.account_id))
    return {"issues": issues, "issueErrors": errors}


@router.get("/issue/{issueIdOrKey}", operation_id="getIssue")
async def get(
    issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, fields: FieldsQuery = None, expand: str | None = None
) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    chosen = select_fields(fields, "*all")
    return issue_view(runtime.base, runtime.site, issue, chosen, parse_expand(expand), user.account_id)


@router.get("/issue/{issueIdOrKey}/editmeta", operation_id="getEditIssueMeta")
async def editmeta(issueIdOrKey: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    """IssueUpdateMetadata: the fields the edit screen offers, as `expand=editmeta` gives them."""
    return edit_fields(runtime.site, runtime.base, visible_issue(runtime.site, user, issueIdOrKey))


@router.put("/issue/{issueIdOrKey}", operation_id="editIssue", status_code=204)
async def edit(
    issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep, returnIssue: bool = False
) -> Response:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    edit_issue(runtime.site, user, issue, body)
    if returnIssue:
        return JiraJSONResponse(issue_json(runtime.base, runtime.site, issue, select_fields(None, "*all")))
    return Response(status_code=204)


@router.put("/issue/{issueIdOrKey}/assignee", operation_id="assignIssue", status_code=204)
async def assign(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> Response:
    """`{"accountId": null}` unassigns and `"-1"` assigns the project's default assignee, as in Jira."""
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    if not isinstance(body, dict) or "accountId" not in body:
        raise JiraError(400, ["accountId is required."])
    account_id = body["accountId"]
    if account_id == DEFAULT_ASSIGNEE:
        # The sandbox's projects all use Jira's default, "Project lead", as the default assignee.
        account_id = runtime.site.projects[issue.project_id].lead_account_id
    edit_issue(runtime.site, user, issue, {"fields": {"assignee": {"accountId": account_id} if account_id else None}})
    return Response(status_code=204)


@router.delete("/issue/{issueIdOrKey}", operation_id="deleteIssue", status_code=204)
async def delete(issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, deleteSubtasks: bool = False) -> Response:
    site = runtime.site
    issue = visible_issue(site, user, issueIdOrKey)
    children = (site.issues[i] for i in site.subtask_ids.get(issue.id, ()))
    if not deleteSubtasks and any(site.issue_types[c.issuetype_id].subtask for c in children):
        raise JiraError(400, ["The issue has subtasks. Set deleteSubtasks=true to delete it with its subtasks."])
    site.remove_issue(issue)
    return Response(status_code=204)


@router.get("/issue/{issueIdOrKey}/comment", operation_id="getComments")
async def comments(
    issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, startAt: int = 0, maxResults: int = 100
) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    every = issue.comments or []
    page = every[startAt : startAt + max(0, min(maxResults, 5000))]
    return {
        "startAt": startAt,
        "maxResults": maxResults,
        "total": len(every),
        "comments": [comment_json(runtime.base, runtime.site, issue, c) for c in page],
    }


@router.post("/issue/{issueIdOrKey}/comment", operation_id="addComment", status_code=201)
async def comment(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    adf = body.get("body") if isinstance(body, dict) else None
    if not is_adf(adf):
        raise JiraError(400, errors={"comment": NOT_ADF})
    assert isinstance(adf, dict)
    return comment_json(runtime.base, runtime.site, issue, add_comment(runtime.site, user, issue, adf))
