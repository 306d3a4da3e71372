"""Fault injection shared by the sandboxes: latency, vendor errors, throttling, timeouts, lost responses.

A `FaultMiddleware` wraps a sandbox app. Each request draws once from the configured shares, in this
order: timeout (never processed), dropped connection (never processed), 5xx, 429, then the request
runs; a write that ran may still lose its response (`lost_response_rate`), which is the case that makes
naive clients create duplicates.

Broken connections are raised as `SandboxConnectionError` subclasses after the response has started,
so that uvicorn closes the socket mid-response (the client sees a protocol error) and, in process,
`SandboxTransport` turns them into the matching httpx exceptions.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FaultConfig(BaseModel):
    """What goes wrong, and how often. Shares are probabilities in [0, 1] drawn per request."""

    latency_ms: float = Field(0, ge=0)
    jitter_ms: float = Field(0, ge=0)
    error_rate: float = Field(0, ge=0, le=1)
    error_statuses: list[int] = Field(default_factory=lambda: [500, 502, 503])
    rate_limit_rate: float = Field(0, ge=0, le=1)
    retry_after_seconds: int = Field(1, ge=0)
    #: Share of the injected 503s that carry `Retry-After: retry_after_seconds`, as some of Jira's do.
    retry_after_503_rate: float = Field(0, ge=0, le=1)
    timeout_rate: float = Field(0, ge=0, le=1)
    drop_rate: float = Field(0, ge=0, le=1)
    lost_response_rate: float = Field(0, ge=0, le=1)
    #: Standalone only: how long a "timed out" request hangs before the socket closes.
    hang_seconds: float = Field(30, ge=0)
    #: Faults apply to writes only when true (reads always answer).
    writes_only: bool = False
    seed: int | None = None


class SandboxConnectionError(Exception):
    """The connection broke; raised out of the app on purpose."""


class SandboxTimeout(SandboxConnectionError):
    """The request hung until the client gave up; it was not processed."""


class SandboxDropped(SandboxConnectionError):
    """The connection dropped; the request may or may not have been processed (see `applied`)."""

    def __init__(self, applied: bool) -> None:
        super().__init__("applied" if applied else "not applied")
        self.applied = applied


ErrorBody = Callable[[int], dict[str, Any]]
#: Headers of an injected error, from its status and the configured Retry-After seconds.
ErrorHeaders = Callable[[int, int], dict[str, str]]
IsExempt = Callable[[Scope], bool]


class FaultMiddleware:
    """Injects the faults of a mutable `FaultConfig`; `counts` records each fault injected."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: FaultConfig,
        error_body: ErrorBody,
        is_exempt: IsExempt,
        in_process: bool = True,
        error_headers: ErrorHeaders | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.app = app
        self.config = config
        self.error_body = error_body
        self.error_headers = error_headers
        self.content_type = content_type
        self.is_exempt = is_exempt
        self.in_process = in_process
        self.counts: Counter[str] = Counter()
        self._random = random.Random(config.seed)

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_exempt(scope):
            await self.app(scope, receive, send)
            return
        cfg = self.config
        if cfg.latency_ms or cfg.jitter_ms:
            await asyncio.sleep((cfg.latency_ms + self._random.uniform(0, cfg.jitter_ms)) / 1000)
        is_write = scope["method"] in WRITE_METHODS
        if cfg.writes_only and not is_write:
            await self.app(scope, receive, send)
            return
        if self._draw(cfg.timeout_rate):
            self.counts["timeout"] += 1
            if not self.in_process:
                await asyncio.sleep(cfg.hang_seconds)
            raise SandboxTimeout()
        if self._draw(cfg.drop_rate):
            self.counts["dropped"] += 1
            await _start_then_break(send)
            raise SandboxDropped(applied=False)
        if self._draw(cfg.error_rate):
            status = self._random.choice(cfg.error_statuses)
            self.counts[f"status_{status}"] += 1
            headers = self.error_headers(status, cfg.retry_after_seconds) if self.error_headers else {}
            if status == 503 and self._draw(cfg.retry_after_503_rate):
                headers = {"retry-after": str(cfg.retry_after_seconds)} | headers
            await _send_json(send, status, self.error_body(status), headers, self.content_type)
            return
        if self._draw(cfg.rate_limit_rate):
            self.counts["status_429"] += 1
            if self.error_headers is not None:
                headers = self.error_headers(429, cfg.retry_after_seconds)
            else:
                headers = {"retry-after": str(cfg.retry_after_seconds)}
            await _send_json(send, 429, self.error_body(429), headers, self.content_type)
            return
        if is_write and self._draw(cfg.lost_response_rate):
            self.counts["lost_response"] += 1
            await self.app(scope, receive, _swallow)
            await _start_then_break(send)
            raise SandboxDropped(applied=True)
        await self.app(scope, receive, send)

    def _draw(self, share: float) -> bool:
        return share > 0 and self._random.random() < share


async def _swallow(message: Message) -> None:
    """Discards a response the client will never see."""


async def _start_then_break(send: Send) -> None:
    # Starting a response that promises a body and then raising makes uvicorn close the socket
    # mid-message: the client sees the connection break, not a clean 500.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str], content_type: str = "application/json"
) -> None:
    raw = json.dumps(body).encode()
    header_list = [(b"content-type", content_type.encode()), (b"content-length", str(len(raw)).encode())]
    header_list += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": header_list})
    await send({"type": "http.response.body", "body": raw})


class SandboxTransport(httpx.AsyncBaseTransport):
    """httpx transport that runs a sandbox in process and turns its broken connections into the
    exceptions a real socket would give: `ReadTimeout` for a hang, `RemoteProtocolError` for a drop."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except SandboxTimeout as exc:
            raise httpx.ReadTimeout("sandbox: request timed out", request=request) from exc
        except SandboxDropped as exc:
            raise httpx.RemoteProtocolError("sandbox: connection dropped", request=request) from exc
