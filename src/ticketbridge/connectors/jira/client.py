"""A thin, typed client of the Jira Cloud platform REST API v3: one method per endpoint.

Every response is classified exactly once, in `_send`, into a result or a `connectors.errors` error,
by the rules every vendor shares (`connectors.responses`) read with Jira's error bodies (`ERRORS`).
Payloads stay plain JSON here; translation to our model lives in `mapping.py`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from ticketbridge.connectors import responses
from ticketbridge.connectors.paths import KeyKind, checked, segment
from ticketbridge.connectors.responses import ErrorDialect, send

Json = dict[str, Any]
API = "/rest/api/3"
#: Jira's cap for reconcileIssues in /search/jql (POST /issue/bulk's, also 50, is the spec's
#: `Capabilities.bulk_create_size`).
RECONCILE_LIMIT = 50
#: POST /issue/bulkfetch takes up to 100 ids or keys.
BULK_FETCH_LIMIT = 100
#: getAvailableTransitions and submitBulkTransition take up to 1000 issues ("in a single operation").
BULK_TRANSITION_LIMIT = 1000
#: getAvailableTransitions' page: "delivering 50 workflows at a time".
BULK_TRANSITION_WORKFLOWS_PAGE = 50
#: Jira's own key patterns: "an uppercase letter followed by one or more uppercase alphanumeric
#: characters" (project keys), PROJ-123 (issue keys); ids are digits.
PROJECT_ID_OR_KEY = KeyKind("Jira project key or id", "project_key", re.compile(r"[A-Z][A-Z0-9_]+|[0-9]+"))
ISSUE_ID_OR_KEY = KeyKind("Jira issue key or id", "vendor_id", re.compile(r"[A-Z][A-Z0-9_]+-[0-9]+|[0-9]+"))
TASK_ID = KeyKind("Jira task id", "task_id", re.compile(r"[0-9]+"))
ISSUE_TYPE_ID = KeyKind("Jira issue type id", "type_vendor_id", re.compile(r"[0-9]+"))
#: createmeta's page size (Jira's maximum for the fields of one type) and a bound on its pages.
CREATEMETA_PAGE = 50
CREATEMETA_MAX_PAGES = 40


class JiraClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def aclose(self) -> None:
        await self._http.aclose()

    async def myself(self) -> Json:
        return await self._json("GET", f"{API}/myself")

    async def create_issues(self, issue_updates: list[Json]) -> Json:
        """POST /issue/bulk (createIssues): up to 50; a partial failure still answers 201 with
        `errors[]` indexed by `failedElementNumber`, and 400 when every element failed."""
        response = await self._send(
            "POST", f"{API}/issue/bulk", json={"issueUpdates": issue_updates}, write=True, accept=(400,)
        )
        body: Json = responses.body_of(response)
        return body

    async def get_issue(self, key: str, fields: str = "*all") -> Json:
        """GET /issue/{issueIdOrKey} (getIssue)."""
        return await self._json("GET", f"{API}/issue/{segment(key, ISSUE_ID_OR_KEY)}", params={"fields": fields})

    async def bulk_fetch_issues(self, ids_or_keys: list[str], *, fields: list[str]) -> Json:
        """POST /issue/bulkfetch (bulkFetchIssues): up to 100; the ones that do not exist or cannot be
        seen come back in `issueErrors`, not as a failure."""
        body = {"issueIdsOrKeys": ids_or_keys, "fields": fields}
        return await self._json("POST", f"{API}/issue/bulkfetch", json=body)

    async def edit_issue(self, key: str, body: Json) -> None:
        """PUT /issue/{issueIdOrKey} (editIssue): 204."""
        await self._send("PUT", f"{API}/issue/{segment(key, ISSUE_ID_OR_KEY)}", json=body, write=True)

    async def get_transitions(self, key: str) -> list[Json]:
        """GET /issue/{issueIdOrKey}/transitions (getTransitions): from the current status only."""
        body = await self._json("GET", f"{API}/issue/{segment(key, ISSUE_ID_OR_KEY)}/transitions")
        transitions: list[Json] = body.get("transitions", [])
        return transitions

    async def do_transition(self, key: str, transition_id: str) -> None:
        """POST /issue/{issueIdOrKey}/transitions (doTransition): 204."""
        await self._send(
            "POST",
            f"{API}/issue/{segment(key, ISSUE_ID_OR_KEY)}/transitions",
            json={"transition": {"id": transition_id}},
            write=True,
        )

    async def search_jql(
        self,
        jql: str,
        *,
        fields: list[str],
        max_results: int,
        next_page_token: str | None = None,
        reconcile_issues: list[int] | None = None,
    ) -> Json:
        """POST /search/jql (searchAndReconsileIssuesUsingJqlPost): token paging, no total."""
        body: Json = {"jql": jql, "fields": fields, "maxResults": max_results}
        if next_page_token:
            body["nextPageToken"] = next_page_token
        if reconcile_issues:
            body["reconcileIssues"] = reconcile_issues
        return await self._json("POST", f"{API}/search/jql", json=body)

    async def get_bulk_transitions(self, keys: list[str], *, starting_after: str | None = None) -> Json:
        """GET /bulk/issues/transition (getAvailableTransitions): up to 1000 issues, grouped by workflow,
        one page of 50 workflows; `startingAfter` in the answer asks for the next."""
        params = {"issueIdsOrKeys": ",".join(keys)}
        if starting_after is not None:
            params["startingAfter"] = starting_after
        return await self._json("GET", f"{API}/bulk/issues/transition", params=params)

    async def submit_bulk_transition(self, inputs: list[Json]) -> str:
        """POST /bulk/issues/transition (submitBulkTransition): 201 {taskId}."""
        body = await self._json(
            "POST",
            f"{API}/bulk/issues/transition",
            json={"bulkTransitionInputs": inputs, "sendBulkNotification": False},
            write=True,
        )
        return str(body["taskId"])

    async def submit_bulk_edit(self, keys: list[str], actions: list[str], fields_input: Json) -> str:
        """POST /bulk/issues/fields (submitBulkEdit): 201 {taskId}."""
        body = await self._json(
            "POST",
            f"{API}/bulk/issues/fields",
            json={
                "selectedIssueIdsOrKeys": keys,
                "selectedActions": actions,
                "editedFieldsInput": fields_input,
                "sendBulkNotification": False,
            },
            write=True,
        )
        return str(body["taskId"])

    async def get_bulk_progress(self, task_id: str) -> Json:
        """GET /bulk/queue/{taskId} (getBulkOperationProgress)."""
        return await self._json("GET", f"{API}/bulk/queue/{segment(task_id, TASK_ID)}")

    async def search_projects(self, *, start_at: int, max_results: int, expand: str | None = None) -> Json:
        """GET /project/search (searchProjects): offset page bean, at most 100 a page."""
        params: Json = {"startAt": start_at, "maxResults": max_results}
        if expand:
            params["expand"] = expand
        return await self._json("GET", f"{API}/project/search", params=params)

    async def create_meta_issue_types(self, project_key: str) -> list[Json]:
        """GET /issue/createmeta/{projectIdOrKey}/issuetypes: the types one can create in a project."""
        path = f"{API}/issue/createmeta/{segment(project_key, PROJECT_ID_OR_KEY)}/issuetypes"
        body = await self._json("GET", path, params={"maxResults": 200})
        types: list[Json] = body.get("issueTypes") or body.get("createMetaIssueType") or []
        return types

    async def create_meta_fields(self, project_key: str, issue_type_id: str) -> list[Json]:
        """GET /issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}
        (getCreateIssueMetaIssueTypeId): the create screen's fields, every page of them."""
        path = (
            f"{API}/issue/createmeta/{segment(project_key, PROJECT_ID_OR_KEY)}"
            f"/issuetypes/{segment(issue_type_id, ISSUE_TYPE_ID)}"
        )
        fields: list[Json] = []
        for _ in range(CREATEMETA_MAX_PAGES):
            body = await self._json("GET", path, params={"startAt": len(fields), "maxResults": CREATEMETA_PAGE})
            page: list[Json] = body.get("fields") or body.get("results") or []
            fields += page
            if not page or len(fields) >= int(body.get("total") or 0):
                break
        return fields

    async def edit_meta(self, key: str) -> Json:
        """GET /issue/{issueIdOrKey}?expand=editmeta (getIssue): the edit screen's fields of the issue
        (`editmeta.fields`), with the issue's project and type."""
        return await self._json(
            "GET",
            f"{API}/issue/{segment(key, ISSUE_ID_OR_KEY)}",
            params={"fields": "project,issuetype", "expand": "editmeta"},
        )

    async def assignable_users(
        self, project_key: str, query: str | None, max_results: int, *, start_at: int = 0
    ) -> list[Json]:
        """GET /user/assignable/search (findAssignableUsers): a bare array."""
        params: Json = {
            "project": checked(project_key, PROJECT_ID_OR_KEY),
            "maxResults": max_results,
            "query": query or "",
            "startAt": start_at,
        }
        response = await self._send("GET", f"{API}/user/assignable/search", params=params)
        users: list[Json] = responses.body_of(response)
        return users

    async def priorities(self) -> list[Json]:
        """GET /priority (getPriorities): a bare array."""
        response = await self._send("GET", f"{API}/priority")
        priorities: list[Json] = responses.body_of(response)
        return priorities

    async def statuses(self) -> list[Json]:
        """GET /status (getStatuses): every status with its category, a bare array."""
        response = await self._send("GET", f"{API}/status")
        statuses: list[Json] = responses.body_of(response)
        return statuses

    async def _json(self, method: str, url: str, *, write: bool = False, **kwargs: Any) -> Json:
        response = await self._send(method, url, write=write, **kwargs)
        body: Json = responses.body_of(response)
        return body

    async def _send(
        self, method: str, url: str, *, write: bool = False, accept: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        response = await send(self._http, method, url, vendor="Jira", write=write, **kwargs)
        return classify(response, accept=accept)


def classify(response: httpx.Response, *, accept: tuple[int, ...] = ()) -> httpx.Response:
    """Returns a successful (or explicitly accepted) response; raises the matching vendor error
    (`connectors.responses`, with Jira's error bodies)."""
    return responses.classify(response, ERRORS, accept=accept)


def error_message(response: httpx.Response) -> str:
    """Jira's ErrorCollection (errorMessages + errors) or the bulk API's {errors:[{message}]}, as one line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    messages = [str(message) for message in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        messages += [f"{field}: {text}" for field, text in errors.items()]
    elif isinstance(errors, list):
        messages += [str(item.get("message")) for item in errors if isinstance(item, dict)]
    if body.get("message"):
        messages.append(str(body["message"]))
    return "; ".join(messages) or f"HTTP {response.status_code}"


def field_errors(response: httpx.Response) -> dict[str, str]:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}


def element_error_message(element_errors: Json) -> str:
    messages = list(element_errors.get("errorMessages") or [])
    messages += [f"{field}: {text}" for field, text in (element_errors.get("errors") or {}).items()]
    return "; ".join(messages) or "Jira rejected the issue"


#: Jira's ErrorCollection: messages and a field -> message map (`errors`), as sentry reads them.
ERRORS = ErrorDialect(vendor="Jira", message=error_message, field_errors=field_errors)
