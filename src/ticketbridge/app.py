"""The FastAPI application: `create_app(settings)` wires everything; importing builds nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ticketbridge.api import admin, connection, deps, health, itsm, jobs, oauth, passthrough, tickets
from ticketbridge.api.errors import install_error_handlers
from ticketbridge.api.idempotency import IdempotencyMiddleware, document_idempotency_key
from ticketbridge.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from ticketbridge.api.ratelimit import RATE_LIMIT_HEADERS, RateLimiter, RateLimitMiddleware, document_rate_limits
from ticketbridge.config import Settings
from ticketbridge.errors import NotMigrated
from ticketbridge.jobs.registry import RegistryFactory
from ticketbridge.jobs.worker import Worker, freeze_startup_heap, schedulers
from ticketbridge.observability import get_logger
from ticketbridge.services.job_handlers import ticket_job_handlers
from ticketbridge.state import Runtime
from ticketbridge.store import migrate
from ticketbridge.store.base import run_wal_checkpoints

log = get_logger("ticketbridge.app")

#: What a browser app may send and read (CORS): the data API's request headers, and the response
#: headers a client acts on (concurrency, tracing, back-off, created resources).
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_ALLOW_HEADERS = ["X-API-KEY", "X-CONNECTION-ID", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"]
CORS_EXPOSE_HEADERS = ["ETag", "X-Request-ID", "Retry-After", "Location", "Idempotent-Replayed", *RATE_LIMIT_HEADERS]

DESCRIPTION = """One HTTP API to create, update and bulk-write tickets in your customers' ITSM tools.

Every `/v1` data request carries `X-API-KEY` (your organization's key) and `X-CONNECTION-ID`
(the connection to a vendor site). Every error is an `ErrorResponse`.

Requests are rate limited per API key and, more loosely, per organization: every limited answer carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds), `RateLimit-Policy`
and `RateLimit`; a refused one is a 429 `TOO_MANY_REQUESTS` with `Retry-After`.
"""


async def prepare_database(runtime: Runtime) -> None:
    """Embedded mode migrates itself; distributed mode refuses to run on an un-migrated database."""
    if runtime.settings.should_auto_migrate:
        if runtime.settings.is_embedded:
            runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(runtime.engine)
    elif not await migrate.is_at_head(runtime.engine):
        raise NotMigrated()


@asynccontextmanager
async def _worker(runtime: Runtime, job_handlers: RegistryFactory) -> AsyncIterator[None]:
    """Runs the in-process worker for the app's lifetime; at shutdown it drains gracefully."""
    if not runtime.settings.worker_enabled:
        yield
        return
    handlers = job_handlers(runtime)
    worker = Worker.for_runtime(runtime, handlers=handlers, concurrency=runtime.settings.worker_concurrency)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop))]
    tasks += [asyncio.create_task(scheduler) for scheduler in schedulers(runtime, handlers, stop)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@asynccontextmanager
async def _in_background(run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Runs `run(stop)` for the app's lifetime; at shutdown sets `stop` and waits for it to end."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def create_app(
    settings: Settings, *, runtime: Runtime | None = None, job_handlers: RegistryFactory = ticket_job_handlers
) -> FastAPI:
    """Builds the app. Pass `runtime` to share an engine (tests, the demo); otherwise the lifespan
    builds one from `settings` and disposes of it at shutdown. With `settings.worker_enabled`, the
    lifespan also runs a job worker over `job_handlers(runtime)` (the embedded mode)."""
    limiter = RateLimiter.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        current = runtime or Runtime.build(settings)
        try:
            await prepare_database(current)
            app.state.runtime = current
            if owned:  # a server process (tests pass their runtime): see freeze_startup_heap
                freeze_startup_heap()
            log.info("app.started", embedded=settings.is_embedded)
            cache = current.auth_cache
            flush_interval = current.settings.api_key_usage_flush_seconds
            async with (
                _worker(current, job_handlers),
                # The API keys' last_used_at, written off the request path (and once at shutdown).
                _in_background(partial(cache.run_flusher, current.sessionmaker, interval_seconds=flush_interval)),
                # The request path's warm key and connection lookups, kept fresh.
                _in_background(partial(cache.run_refresher, current.sessionmaker)),
                # SQLite's WAL, checkpointed off the request path.
                _in_background(partial(run_wal_checkpoints, current.engine)),
            ):
                yield
        finally:
            await limiter.close()
            if owned:
                await current.close()

    app = FastAPI(
        title="ticketbridge",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # One schema per model, under the seeds' names (no "-Input"/"-Output" twins).
        separate_input_output_schemas=False,
        dependencies=[Depends(deps.single_query_values)],
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(oauth.admin_router)
    app.include_router(oauth.router)
    app.include_router(connection.router)
    app.include_router(itsm.router)
    app.include_router(passthrough.router)
    app.include_router(tickets.router)
    app.include_router(jobs.router)
    app.include_router(jobs.metrics_router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outside the size limit: a body too large for it passes through, for the limiter to refuse.
    app.add_middleware(IdempotencyMiddleware, max_body_bytes=settings.max_body_bytes)
    document_idempotency_key(app)
    # Outside idempotency, so a refused request is neither stored nor replayed.
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    document_rate_limits(app)
    if settings.cors_origins or settings.cors_origin_regex:
        # Browsers send no cookies here (the key is a header), so credentials stay disallowed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_origin_regex=settings.cors_origin_regex,
            allow_methods=CORS_ALLOW_METHODS,
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    return app
