"""Optional throttling: a fixed one-second window per tenant, answered with 429 and Retry-After.

Rezolve's overview mentions 429 and X-RateLimit-* headers but documents no numbers, so the limit is
a plain configurable requests-per-second (off by default).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketbridge.sandboxes.faults import ErrorBody, IsExempt

WINDOW_SECONDS = 1.0


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_second: int,
        error_body: ErrorBody,
        is_exempt: IsExempt,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_second = per_second
        self.error_body = error_body
        self.is_exempt = is_exempt
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_exempt(scope):
            await self.app(scope, receive, send)
            return
        tenant = Headers(scope=scope).get("x-tenantid", "")
        now = self.clock()
        started, count = self._windows.get(tenant, (now, 0))
        if now - started >= WINDOW_SECONDS:
            started, count = now, 0
        count += 1
        self._windows[tenant] = (started, count)
        remaining = max(self.per_second - count, 0)
        headers = {"x-ratelimit-limit": str(self.per_second), "x-ratelimit-remaining": str(remaining)}
        if count <= self.per_second:
            await self.app(scope, receive, _with_headers(send, headers))
            return
        headers["retry-after"] = str(max(1, math.ceil(started + WINDOW_SECONDS - now)))
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
