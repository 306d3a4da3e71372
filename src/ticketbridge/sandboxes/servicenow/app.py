"""`create_app`: the ServiceNow sandbox as one ASGI app, with fault injection outermost.

Layers a request crosses: FaultMiddleware (drawn per request, `/__sandbox__/` and `/oauth_token.do`
exempt) -> FastAPI, whose `ServiceNowRoute` counts the call, authenticates and applies the rate limits
before the handler runs. Batch items are dispatched to the app inside the fault layer (`Runtime.inner`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketbridge.sandboxes import control as controls
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.servicenow import control
from ticketbridge.sandboxes.servicenow.config import ServiceNowSandboxConfig
from ticketbridge.sandboxes.servicenow.demo import build_demo_instance
from ticketbridge.sandboxes.servicenow.errors import (
    OAuthError,
    ServiceNowError,
    ServiceNowJSONResponse,
    fault_body,
    render_http_error,
    render_oauth_error,
    render_servicenow_error,
    render_validation_error,
)
from ticketbridge.sandboxes.servicenow.persistence import open_store
from ticketbridge.sandboxes.servicenow.ratelimit import RateLimiter
from ticketbridge.sandboxes.servicenow.routes import attachment, batch, oauth, table
from ticketbridge.sandboxes.servicenow.runtime import Runtime
from ticketbridge.sandboxes.servicenow.tokens import TokenStore

#: Never faulted: the control plane, and the OAuth token endpoint.
EXEMPT_PREFIXES = ("/oauth_token.do",)


def is_exempt(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return controls.is_control(path) or path.startswith(EXEMPT_PREFIXES)


class ServiceNowSandboxApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        runtime: Runtime = self.state.runtime
        stack = super().build_middleware_stack()
        app = self

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            # Starlette.__call__ puts the app in the scope; batch items enter below it.
            scope["app"] = app
            await stack(scope, receive, send)

        runtime.inner = inner
        runtime.faults = FaultMiddleware(
            stack,
            config=runtime.config.faults.model_copy(),
            error_body=fault_body,
            is_exempt=is_exempt,
            in_process=runtime.config.in_process,
            content_type=ServiceNowJSONResponse.media_type,
        )
        return runtime.faults


def create_app(config: ServiceNowSandboxConfig | None = None) -> FastAPI:
    """A sandbox instance: loaded from `persist_path` when that file holds one, else fresh (demo-seeded)."""
    config = config or ServiceNowSandboxConfig()
    store = open_store(config.persist_path) if config.persist_path is not None else None
    loaded = store.load() if store is not None else None
    instance = loaded or build_demo_instance(with_incidents=config.seed_demo)
    tokens = TokenStore(config.access_token_ttl_seconds, config.refresh_token_ttl_seconds)
    runtime = Runtime(config, instance, RateLimiter(config.rate_limits), tokens, store)
    runtime.save()
    app = ServiceNowSandboxApp(
        title="ServiceNow sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=ServiceNowJSONResponse,
    )
    app.state.runtime = runtime
    app.state.controls = control.ServiceNowControls(runtime)
    for router in (table.router, batch.router, attachment.router, oauth.router, controls.router, control.router):
        app.include_router(router)
    app.add_exception_handler(ServiceNowError, render_servicenow_error)
    app.add_exception_handler(OAuthError, render_oauth_error)
    app.add_exception_handler(RequestValidationError, render_validation_error)
    app.add_exception_handler(HTTPException, render_http_error)
    return app
