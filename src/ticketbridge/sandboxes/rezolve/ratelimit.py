"""Optional throttling: a fixed one-second window per tenant, answered with 429 and Retry-After.

Rezolve's overview mentions 429 and X-RateLimit-* headers but documents no numbers, so the limit is
a plain configurable requests-per-second (`RateLimitConfig`, off by default). The `RateLimiter` holds
the config and the windows (the control plane reconfigures it); the middleware applies it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketbridge.sandboxes.faults import ErrorBody, IsExempt
from ticketbridge.sandboxes.rezolve.config import RateLimitConfig

WINDOW_SECONDS = 1.0


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def configure(self, config: RateLimitConfig) -> None:
        """A new configuration starts every window at zero."""
        self.config = config
        self._windows.clear()

    def admit(self, tenant: str) -> tuple[dict[str, str], bool]:
        """Counts one request of `tenant`: the headers to send, and whether it is over the limit (the
        headers then carry `retry-after`)."""
        limit = self.config.requests_per_second
        now = self.clock()
        started, count = self._windows.get(tenant, (now, 0))
        if now - started >= WINDOW_SECONDS:
            started, count = now, 0
        count += 1
        self._windows[tenant] = (started, count)
        headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(limit - count, 0))}
        if count <= limit:
            return headers, False
        headers["retry-after"] = str(max(1, math.ceil(started + WINDOW_SECONDS - now)))
        return headers, True


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, error_body: ErrorBody, is_exempt: IsExempt) -> None:
        self.app = app
        self.limiter = limiter
        self.error_body = error_body
        self.is_exempt = is_exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_exempt(scope) or not self.limiter.config.enabled:
            await self.app(scope, receive, send)
            return
        headers, refused = self.limiter.admit(Headers(scope=scope).get("x-tenantid", ""))
        if not refused:
            await self.app(scope, receive, _with_headers(send, headers))
            return
        raw = json.dumps(self.error_body(429)).encode()
        all_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        all_headers += [(key.encode(), value.encode()) for key, value in headers.items()]
        await send({"type": "http.response.start", "status": 429, "headers": all_headers})
        await send({"type": "http.response.body", "body": raw})


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [(key.encode(), value.encode()) for key, value in headers.items()]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_with_headers
