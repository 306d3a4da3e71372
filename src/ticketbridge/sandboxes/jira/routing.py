"""The route class of every Jira operation: counts calls by operationId, advances bulk tasks, throttles."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ticketbridge.sandboxes.jira.errors import fault_body
from ticketbridge.sandboxes.jira.runtime import Runtime


class JiraRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        operation_id = self.operation_id or self.name
        route = self.path_format

        async def run(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            runtime.calls[operation_id] += 1
            runtime.queue.advance()
            ref = request.path_params.get("issueIdOrKey")
            issue = runtime.site.issue(ref) if ref else None
            throttled = runtime.limiter.admit(request.method, route, str(issue.id) if issue else None)
            if throttled is not None:
                return JSONResponse(fault_body(429), status_code=429, headers=throttled.headers())
            response = await handler(request)
            if request.method != "GET":
                runtime.save()
            return response

        return run
