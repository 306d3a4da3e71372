"""Builds the Rezolve sandbox app: vendor routes, control API, error rendering, faults, throttling."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.types import Scope

from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.rezolve import control
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
from ticketbridge.sandboxes.rezolve.state import SandboxState
from ticketbridge.sandboxes.rezolve.tokens import TokenIssuer

#: Never faulted nor throttled: the control API, and Keycloak, which is another service than Rezolve.
EXEMPT_PREFIXES = (control.PREFIX + "/", "/auth/")


def is_exempt(scope: Scope) -> bool:
    return str(scope["path"]).startswith(EXEMPT_PREFIXES)


def create_app(config: RezolveSandboxConfig | None = None) -> FastAPI:
    """A fresh sandbox with its own state and signing key; runs in process or under uvicorn."""
    config = config or RezolveSandboxConfig()
    app = FastAPI(title="Rezolve sandbox (ticketing v2)")
    app.state.sandbox = SandboxState(config)
    app.state.issuer = TokenIssuer(base_url=config.base_url, ttl_seconds=config.token_ttl_seconds)
    app.add_exception_handler(RezolveError, render_rezolve_error)
    app.add_exception_handler(TokenError, render_token_error)
    app.add_exception_handler(RequestValidationError, render_validation_error)
    for router in (auth.router, tickets.router, metadata.router, control.router):
        app.include_router(router)
    if config.rate_limit_per_second is not None:
        app.add_middleware(
            RateLimitMiddleware,
            per_second=config.rate_limit_per_second,
            error_body=fault_body,
            is_exempt=is_exempt,
        )
    app.add_middleware(
        FaultMiddleware,
        config=config.faults.model_copy(),
        error_body=fault_body,
        is_exempt=is_exempt,
        in_process=config.in_process,
    )
    return app
