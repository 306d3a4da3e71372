"""The route class of every Jira operation: refuses a 3LO token whose scopes do not cover the operation
(the gateway's check, before Jira sees the request), counts calls by operationId, advances bulk tasks,
applies the rate limits, renders errors in the shape of the operation's family, and puts the rate-limit headers on
every answer, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ticketbridge.sandboxes.jira.errors import RATE_LIMITED, BulkOperationError, JiraError, render_error
from ticketbridge.sandboxes.jira.gateway import OAUTH_PRINCIPAL, SCOPE_MISMATCH, gateway_error_body
from ticketbridge.sandboxes.jira.oauth import Principal
from ticketbridge.sandboxes.jira.runtime import Runtime

#: Operations that read although they are POSTs: they cost their objects' points, not a write's 1.
READ_POSTS = frozenset({"searchAndReconsileIssuesUsingJqlPost", "bulkFetchIssues", "countIssues"})
#: Operations whose objects are users (identity objects, 2 points each).
IDENTITY_OPERATIONS = frozenset({"getCurrentUser", "findAssignableUsers"})
#: Members of an answer that hold its objects, when it is not a bare array.
OBJECT_LISTS = ("issues", "values", "comments", "issueTypes", "fields", "transitions", "availableTransitions")


class JiraRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        operation_id = self.operation_id or self.name
        route = self.path_format

        async def run(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            principal: Principal | None = request.scope.get(OAUTH_PRINCIPAL)
            if principal is not None and not runtime.scopes.allows(operation_id, principal.scopes):
                return JSONResponse(gateway_error_body(SCOPE_MISMATCH), status_code=401)
            runtime.calls.record(operation_id)
            runtime.queue.advance()
            limiter = runtime.limiter
            quota = limiter.is_quota_traffic(request.headers.get("authorization", ""))
            ref = request.path_params.get("issueIdOrKey")
            issue = runtime.site.issue(ref) if ref else None
            throttled = limiter.admit(request.method, route, str(issue.id) if issue else None, quota=quota)
            if throttled is not None:
                return render_error(request, JiraError(429, [RATE_LIMITED], headers=throttled.headers()))
            try:
                response = await handler(request)
            except (JiraError, BulkOperationError, RequestValidationError) as exc:
                response = render_error(request, exc)
            if quota:
                limiter.charge(_points(operation_id, request.method, response))
            if request.method != "GET":
                runtime.save()
            for name, value in limiter.answer_headers(request.method, route, quota=quota).items():
                response.headers.setdefault(name, value)
            return response

        return run


def _points(operation_id: str, method: str, response: Response) -> int:
    """What an answer costs in the hourly quota: 1, plus each object a successful read returns."""
    if (method != "GET" and operation_id not in READ_POSTS) or response.status_code >= 400:
        return 1
    try:
        body = json.loads(bytes(response.body)) if response.body else None
    except ValueError:
        return 1
    if isinstance(body, list):
        objects = len(body)
    elif isinstance(body, dict):
        lists = [body[k] for k in OBJECT_LISTS if isinstance(body.get(k), list)]
        objects = len(lists[0]) if lists else 1
    else:
        objects = 0
    return 1 + objects * (2 if operation_id in IDENTITY_OPERATIONS else 1)
