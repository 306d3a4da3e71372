"""Inbound rate limits: a moving window per API key, a looser one per organization, one per admin token.

A pure ASGI middleware, inside CORS (a browser can read the 429) and outside the body-size limit (a
refused body is never read). Only /v1 is limited: health, metrics and the docs are not, nor is a
request without a credential (it is answered 401 anyway). A key is counted by the SHA-256 of its
X-API-KEY header (the key itself is never stored nor logged), before the database is touched; a
refused request costs its organization nothing. The organization's window needs the key's
organization, looked up once per key and process: a key never changes organization.

`limits` has no token bucket; its moving window comes closest. "200/10seconds" admits a burst of 200
and 20/s sustained, like a bucket of 200 tokens refilled at 20/s, except that after a burst the bucket
admits a request every 50 ms while the window waits until the burst's first request is 10 s old: it
never admits more than that bucket would. Counters live in process memory, or in Redis
(TICKETBRIDGE_REDIS_URL), shared by every API process. When Redis fails, requests are served without
a limit and a warning is logged: the limiter protects the API, it must not take it down.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import limits
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketbridge.api.errors import error_response
from ticketbridge.config import Settings
from ticketbridge.crypto import hash_api_key
from ticketbridge.observability import get_logger
from ticketbridge.state import Runtime
from ticketbridge.store import organizations as organizations_store

log = get_logger("ticketbridge.api.ratelimit")

#: The response headers a client reads (CORS exposes them): the de-facto X-RateLimit-* trio (GitHub,
#: Jira) for the tightest window, and draft-ietf-httpapi-ratelimit-headers' pair for every window.
RATE_LIMIT_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
]
#: The organization of this many keys is remembered per process, least recently used out first.
ORGANIZATION_CACHE_SIZE = 10_000
#: A Redis that has not answered within this long counts as down (the request goes on unlimited).
REDIS_TIMEOUT_SECONDS = 0.5
#: OpenAPI header objects (components/headers): type and description.
_HEADER_DOCS = {
    "X-RateLimit-Limit": ("integer", "Requests allowed in the tightest window (API key, organization or admin token)."),
    "X-RateLimit-Remaining": ("integer", "Requests left in that window."),
    "X-RateLimit-Reset": ("integer", "When that window admits one more request, in epoch seconds."),
    "RateLimit-Policy": ("string", 'Each window that applies (IETF draft ratelimit-headers): `"key";q=200;w=10`.'),
    "RateLimit": ("string", 'What is left of each: `"key";r=57;t=3` (requests left; seconds until one more).'),
    "Retry-After": ("integer", "Seconds to wait before retrying."),
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_SUBJECTS = {
    "key": "This API key",
    "organization": "This API key's organization (all its keys together)",
    "admin": "This admin token",
}


@dataclass(frozen=True, slots=True)
class Policy:
    """One limit, under the name RateLimit-Policy gives it: "key", "organization" or "admin"."""

    name: str
    limit: limits.RateLimitItem

    @property
    def window_seconds(self) -> int:
        return self.limit.get_expiry()

    def render(self) -> str:
        return f'"{self.name}";q={self.limit.amount};w={self.window_seconds}'


@dataclass(frozen=True, slots=True)
class Usage:
    """Where one request left one policy's window."""

    policy: Policy
    allowed: bool
    remaining: int
    #: Epoch seconds at which the oldest request counted leaves the window, so one more is admitted.
    reset_at: float

    def seconds_to_reset(self, now: float) -> int:
        return max(0, math.ceil(self.reset_at - now))


class RateLimiter:
    """The policies, and the moving windows that count against them in `storage`."""

    def __init__(
        self,
        *,
        per_key: Policy | None,
        per_organization: Policy | None,
        per_admin: Policy | None,
        storage: Storage,
        pool: ConnectionPool | None = None,
    ) -> None:
        self.per_key = per_key
        self.per_organization = per_organization
        self.per_admin = per_admin
        self._windows = MovingWindowRateLimiter(storage)
        self._pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """Connects to nothing yet: the Redis pool opens its first connection on first use."""
        storage: Storage = MemoryStorage()
        pool = None
        if settings.redis_url is not None:
            pool = ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=f"{settings.redis_key_prefix}:ratelimit",
                # Typed as scalars in `limits`, yet handed to redis.asyncio.Redis as documented.
                connection_pool=pool,  # type: ignore[arg-type]
                wrap_exceptions=True,
            )
        return cls(
            per_key=_policy("key", settings.rate_limit_per_key),
            per_organization=_policy("organization", settings.rate_limit_per_organization),
            # The admin token is one more credential, as busy as a key at most.
            per_admin=_policy("admin", settings.rate_limit_per_key),
            storage=storage,
            pool=pool,
        )

    async def hit(self, policy: Policy, identity: str) -> Usage:
        allowed = await self._windows.hit(policy.limit, policy.name, identity)
        stats = await self._windows.get_window_stats(policy.limit, policy.name, identity)
        return Usage(policy=policy, allowed=allowed, remaining=stats.remaining, reset_at=stats.reset_time)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class RateLimitMiddleware:
    """Answers 429 TOO_MANY_REQUESTS, with Retry-After, to a request over one of its limits, and
    stamps the rate-limit headers on every answer to a limited request."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self._organizations: OrderedDict[str, uuid.UUID] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        try:
            usages = await self._count(scope)
        except StorageError as exc:
            log.warning("ratelimit.storage_unavailable", error=str(exc))
            usages = []
        if not usages:
            await self.app(scope, receive, send)
            return
        now = time.time()
        headers = _headers(usages, now)
        refused = next((usage for usage in usages if not usage.allowed), None)
        if refused is not None:
            log.info("ratelimit.refused", policy=refused.policy.name, path=scope["path"])
            await _too_many_requests(refused, now, headers)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _count(self, scope: Scope) -> list[Usage]:
        """Counts the request in each window it falls under; [] when none applies."""
        headers = Headers(scope=scope)
        limiter = self.limiter
        if scope["path"].startswith("/v1/admin/"):
            token = _bearer_token(headers.get("authorization", ""))
            if token is None or limiter.per_admin is None:
                return []
            return [await limiter.hit(limiter.per_admin, hash_api_key(token))]
        key = headers.get("x-api-key")
        if not key:
            return []
        key_hash = hash_api_key(key)
        usages = []
        if limiter.per_key is not None:
            usages.append(await limiter.hit(limiter.per_key, key_hash))
            if not usages[-1].allowed:
                return usages
        if limiter.per_organization is not None:
            organization_id = await self._organization_of(scope, key_hash)
            if organization_id is not None:
                usages.append(await limiter.hit(limiter.per_organization, str(organization_id)))
        return usages

    async def _organization_of(self, scope: Scope, key_hash: str) -> uuid.UUID | None:
        """The key's organization, or None for an unknown or revoked key (answered 401 later)."""
        if (known := self._organizations.get(key_hash)) is not None:
            self._organizations.move_to_end(key_hash)
            return known
        runtime: Runtime = scope["app"].state.runtime
        async with runtime.sessionmaker() as db:
            key = await organizations_store.find_active_api_key(db, key_hash)
        if key is None:
            return None
        self._organizations[key_hash] = key.organization_id
        if len(self._organizations) > ORGANIZATION_CACHE_SIZE:
            self._organizations.popitem(last=False)
        return key.organization_id


def _policy(name: str, notation: str | None) -> Policy | None:
    return None if notation is None else Policy(name, limits.parse(notation))


def _bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _headers(usages: list[Usage], now: float) -> dict[str, str]:
    # The trio speaks of one window: the one that refused, else the one with the fewest requests left.
    tightest = min(usages, key=lambda usage: (usage.allowed, usage.remaining))
    return {
        "X-RateLimit-Limit": str(tightest.policy.limit.amount),
        "X-RateLimit-Remaining": str(tightest.remaining),
        "X-RateLimit-Reset": str(math.ceil(tightest.reset_at)),
        "RateLimit-Policy": ", ".join(usage.policy.render() for usage in usages),
        "RateLimit": ", ".join(
            f'"{usage.policy.name}";r={usage.remaining};t={usage.seconds_to_reset(now)}' for usage in usages
        ),
    }


def _too_many_requests(refused: Usage, now: float, headers: dict[str, str]) -> JSONResponse:
    retry_after = max(1, refused.seconds_to_reset(now))
    policy = refused.policy
    message = (
        f"{_SUBJECTS[policy.name]} is over its rate limit of {policy.limit.amount} requests per "
        f"{policy.window_seconds} s; retry in {retry_after} s."
    )
    detail = [{"policy": policy.name, "limit": policy.limit.amount, "window_seconds": policy.window_seconds}]
    return error_response(429, "TOO_MANY_REQUESTS", message, detail, {**headers, "Retry-After": str(retry_after)})


def document_rate_limits(app: FastAPI) -> None:
    """Documents a 429 (with Retry-After) on every /v1 operation, and the headers on its 2xx and 429."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("headers", {}).update(
                {name: {"description": text, "schema": {"type": kind}} for name, (kind, text) in _HEADER_DOCS.items()}
            )
            refs = {name: {"$ref": f"#/components/headers/{name}"} for name in _HEADER_DOCS}
            for path, operations in schema["paths"].items():
                if not path.startswith("/v1/"):
                    continue
                for operation in operations.values():
                    responses = operation["responses"]
                    responses.setdefault("429", {"description": "Too Many Requests", "content": _ERROR_CONTENT})
                    for status, response in responses.items():
                        if status == "429" or status.startswith("2"):
                            wanted = refs if status == "429" else {name: refs[name] for name in RATE_LIMIT_HEADERS}
                            response.setdefault("headers", {}).update(wanted)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
