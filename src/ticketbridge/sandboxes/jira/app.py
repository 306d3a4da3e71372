"""`create_app`: the Jira sandbox as one ASGI app, with fault injection outermost.

Order of the layers a request crosses: FaultMiddleware (drawn per request, `/__sandbox__/` exempt) ->
gateway path rewrite (`/ex/jira/{cloudId}/rest/...` is served as `/rest/...`) -> FastAPI, whose
`JiraRoute` counts the call, advances bulk tasks and applies rate limits before the handler runs.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.jira.config import JiraSandboxConfig
from ticketbridge.sandboxes.jira.control import router as control_router
from ticketbridge.sandboxes.jira.demo import build_demo_site
from ticketbridge.sandboxes.jira.errors import (
    BulkOperationError,
    JiraError,
    fault_body,
    render_bulk_error,
    render_jira_error,
)
from ticketbridge.sandboxes.jira.persistence import SiteStore
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter
from ticketbridge.sandboxes.jira.routes import bulk, issues, projects, search, site, transitions
from ticketbridge.sandboxes.jira.runtime import Runtime, new_queue
from ticketbridge.sandboxes.jira.state import Site

API_PREFIX = "/rest/api/3"
CONTROL_PREFIX = "/__sandbox__"
GATEWAY = re.compile(r"^/ex/jira/[^/]+(?=/rest/)")


class JiraSandboxApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        runtime: Runtime = self.state.runtime
        runtime.faults = FaultMiddleware(
            _GatewayPaths(super().build_middleware_stack()),
            config=runtime.config.faults.model_copy(),
            error_body=fault_body,
            is_exempt=_is_control,
            in_process=runtime.config.in_process,
        )
        return runtime.faults


class _GatewayPaths:
    """Serves the OAuth gateway form of every path (api.atlassian.com/ex/jira/{cloudId}/...)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and GATEWAY.match(scope["path"]):
            path = GATEWAY.sub("", scope["path"])
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


def _is_control(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith(CONTROL_PREFIX)


async def _invalid_parameters(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    messages = [f"Invalid value for '{e['loc'][-1]}': {e['msg']}." for e in exc.errors()]
    return JSONResponse({"errorMessages": messages, "errors": {}}, status_code=400)


def create_app(config: JiraSandboxConfig | None = None) -> FastAPI:
    """A sandbox site: loaded from `persist_path` when that file holds one, else fresh (demo-seeded)."""
    config = config or JiraSandboxConfig()
    store = SiteStore(config.persist_path) if config.persist_path is not None else None
    loaded = store.load() if store is not None else None
    site_state = loaded or (build_demo_site() if config.seed_demo else Site())
    runtime = Runtime(config, site_state, RateLimiter(config.rate_limits), new_queue(config), store)
    runtime.save()
    app = JiraSandboxApp(title="Jira Cloud sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    for module in (issues, transitions, bulk, search, site, projects):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(search.removed_router)
    app.include_router(control_router)
    app.add_exception_handler(JiraError, render_jira_error)
    app.add_exception_handler(BulkOperationError, render_bulk_error)
    app.add_exception_handler(RequestValidationError, _invalid_parameters)
    return app
