"""`create_app`: the Jira sandbox as one ASGI app, with fault injection outermost.

Order of the layers a request crosses: FaultMiddleware (drawn per request, `/__sandbox__/` exempt) ->
gateway (`/ex/jira/{cloudId}/rest/...` is served as `/rest/...` by the site with that cloudId, checking 3LO
tokens; see gateway.py) -> API versions (`/rest/api/2` and `/rest/api/latest` are served by the v3 routes,
see versions.py) -> FastAPI, whose `JiraRoute` counts the call, advances bulk tasks and applies rate limits before the
handler runs.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Scope

from ticketbridge.sandboxes import control
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.jira.config import JiraSandboxConfig
from ticketbridge.sandboxes.jira.control import JiraControls
from ticketbridge.sandboxes.jira.control import router as control_router
from ticketbridge.sandboxes.jira.demo import build_demo_site
from ticketbridge.sandboxes.jira.errors import (
    BulkOperationError,
    JiraError,
    JiraJSONResponse,
    fault_body,
    render_exception,
    render_unserved,
)
from ticketbridge.sandboxes.jira.gateway import Gateway
from ticketbridge.sandboxes.jira.persistence import SiteStore
from ticketbridge.sandboxes.jira.ratelimit import RateLimiter
from ticketbridge.sandboxes.jira.routes import (
    attachments,
    bulk,
    history,
    issues,
    links,
    lookups,
    oauth,
    projects,
    search,
    site,
    site_model,
    transitions,
)
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep, new_queue
from ticketbridge.sandboxes.jira.state import Site
from ticketbridge.sandboxes.jira.versions import ApiVersions

API_PREFIX = "/rest/api/3"


class JiraSandboxApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        runtime: Runtime = self.state.runtime
        inner = ApiVersions(super().build_middleware_stack(), base_url=lambda: runtime.base)
        runtime.faults = FaultMiddleware(
            Gateway(inner, runtime),
            config=runtime.config.faults.model_copy(),
            error_body=fault_body,
            is_exempt=_is_control,
            in_process=runtime.config.in_process,
            error_headers=runtime.limiter.fault_headers,
            content_type=JiraJSONResponse.media_type,
        )
        return runtime.faults


def _is_control(scope: Scope) -> bool:
    return control.is_control(str(scope.get("path", "")))


#: What a Jira site answers outside the REST API: its cloudId (https://<site>/_edge/tenant_info).
edge_router = APIRouter()


@edge_router.get("/_edge/tenant_info")
async def tenant_info(runtime: RuntimeDep) -> dict[str, str]:
    return {"cloudId": runtime.config.cloud_id}


def create_app(config: JiraSandboxConfig | None = None) -> FastAPI:
    """A sandbox site: loaded from `persist_path` when that file holds one, else fresh (demo-seeded)."""
    config = config or JiraSandboxConfig()
    store = SiteStore(config.persist_path) if config.persist_path is not None else None
    loaded = store.load() if store is not None else None
    site_state = loaded or (build_demo_site() if config.seed_demo else Site())
    runtime = Runtime(config, site_state, RateLimiter(config.rate_limits), new_queue(config), store)
    runtime.build_site = create_app
    runtime.save()
    app = JiraSandboxApp(
        title="Jira Cloud sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=JiraJSONResponse,
    )
    app.state.runtime = runtime
    app.state.controls = JiraControls(runtime)
    # `projects` first: its `/issue/createmeta` must not be read as `/issue/{issueIdOrKey}`.
    modules = (projects, issues, transitions, bulk, search, site, history, links, attachments, site_model, lookups)
    for module in modules:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(search.removed_router)
    app.include_router(edge_router)
    # auth.atlassian.com and api.atlassian.com, served by the same process (paths as Atlassian's).
    app.include_router(oauth.router)
    app.include_router(control.router)
    app.include_router(control_router)
    app.add_exception_handler(JiraError, render_exception)
    app.add_exception_handler(BulkOperationError, render_exception)
    app.add_exception_handler(RequestValidationError, render_exception)
    app.add_exception_handler(HTTPException, render_unserved)
    return app
