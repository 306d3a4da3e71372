"""`create_app`: the Rezolve sandbox as one ASGI app, with fault injection outermost.

Layers a request crosses: FaultMiddleware (drawn per request; `/__sandbox__/` and Keycloak's `/auth/`
exempt) -> RateLimitMiddleware (per tenant, off by default; the same exemptions) -> FastAPI, whose route
dependencies (deps.py) count the call and check the token, tenant and roles before the handler runs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Scope

from ticketbridge.sandboxes import control as controls
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.rezolve import control, field_config
from ticketbridge.sandboxes.rezolve.config import RezolveSandboxConfig
from ticketbridge.sandboxes.rezolve.errors import (
    RezolveError,
    TokenError,
    fault_body,
    render_rezolve_error,
    render_token_error,
    render_validation_error,
)
from ticketbridge.sandboxes.rezolve.ratelimit import RateLimitMiddleware
from ticketbridge.sandboxes.rezolve.routes import auth, metadata, tickets
from ticketbridge.sandboxes.rezolve.runtime import Runtime
from ticketbridge.sandboxes.rezolve.tokens import TokenIssuer

#: Never faulted nor throttled besides the control plane: Keycloak, which is another service than Rezolve.
EXEMPT_PREFIXES = ("/auth/",)


def is_exempt(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return controls.is_control(path) or path.startswith(EXEMPT_PREFIXES)


class RezolveSandboxApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        runtime: Runtime = self.state.runtime
        runtime.faults = FaultMiddleware(
            super().build_middleware_stack(),
            config=runtime.config.faults.model_copy(),
            error_body=fault_body,
            is_exempt=is_exempt,
            in_process=runtime.config.in_process,
        )
        return runtime.faults


def create_app(config: RezolveSandboxConfig | None = None) -> FastAPI:
    """A sandbox: loaded from `persist_path` when that file holds a store, else fresh (demo-seeded), with
    its own signing key; runs in process or under uvicorn."""
    config = config or RezolveSandboxConfig()
    app = RezolveSandboxApp(title="Rezolve sandbox (ticketing v2)")
    runtime = Runtime(config)
    app.state.runtime = runtime
    app.state.controls = control.RezolveControls(runtime)
    app.state.issuer = TokenIssuer(base_url=config.base_url, ttl_seconds=config.token_ttl_seconds)
    app.add_exception_handler(RezolveError, render_rezolve_error)
    app.add_exception_handler(TokenError, render_token_error)
    app.add_exception_handler(RequestValidationError, render_validation_error)
    for router in (auth.router, tickets.router, metadata.router, controls.router, control.router, field_config.router):
        app.include_router(router)
    app.add_middleware(RateLimitMiddleware, limiter=runtime.limiter, error_body=fault_body, is_exempt=is_exempt)
    return app
