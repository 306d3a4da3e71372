"""Idempotency-Key on every POST under /v1: a pure ASGI middleware, and its OpenAPI documentation.

Keys are scoped to the organization of X-API-KEY and the X-CONNECTION-ID addressed; /v1/admin POSTs
share one admin scope, entered only with the valid admin token (an answer there may hold a new API
key, so an unauthenticated repeat must never be replayed it). The middleware authenticates nothing
of its own: it finds the scope through the auth dependencies' functions, and a request they refuse,
or one naming no usable connection, passes through untouched so the route answers its usual 401/422.

It runs outside BodySizeLimitMiddleware and buffers at most `max_body_bytes` of the body: a larger
one passes through, without idempotency, for the limiter to answer 413. The answer is stored before
its last body message is sent, so a client holding the whole answer finds its replay.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketbridge.api import deps
from ticketbridge.api.errors import domain_error_response
from ticketbridge.errors import InvalidRequest, TicketbridgeError, Unauthenticated
from ticketbridge.observability import get_logger
from ticketbridge.services import idempotency as idempotency_service
from ticketbridge.services.idempotency import KeyScope, StoredResponse
from ticketbridge.state import Runtime
from ticketbridge.store.idempotency import Hold

log = get_logger("ticketbridge.api")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Visible ASCII (RFC 5234 VCHAR), 1 to 255 characters.
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_bearer = HTTPBearer(auto_error=False)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        keys = request.headers.getlist(HEADER)
        runtime: Runtime = scope["app"].state.runtime
        key_scope = await _key_scope(runtime, request) if keys else None
        if key_scope is None:
            await self.app(scope, receive, send)
            return
        messages, complete = await _buffer_body(receive, self.max_body_bytes)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        if not complete:
            await self.app(scope, replay, send)
            return
        body = b"".join(message.get("body", b"") for message in messages)
        fingerprint = idempotency_service.request_hash("POST", scope["path"], scope["query_string"], body)
        try:
            outcome = await idempotency_service.begin(
                runtime.sessionmaker, runtime.cipher, key_scope, _valid_key(keys), fingerprint
            )
        except TicketbridgeError as exc:
            await (await domain_error_response(request, exc))(scope, receive, send)
            return
        if isinstance(outcome, StoredResponse):
            await _send_replay(outcome, send)
            return
        await self._run(runtime, outcome, scope, replay, send)

    async def _run(self, runtime: Runtime, hold: Hold, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        answered = False

        async def capture(message: Message) -> None:
            nonlocal start, answered
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered = True
                    answer = StoredResponse(start["status"], list(start.get("headers", [])), b"".join(chunks))
                    await _settle(idempotency_service.finish(runtime.sessionmaker, runtime.cipher, hold, answer))
            await send(message)

        renewing = asyncio.create_task(idempotency_service.keep_locked(runtime.sessionmaker, hold))
        try:
            await self.app(scope, receive, capture)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            if not answered:  # it raised, or never answered in full: a retry runs again
                await _settle(idempotency_service.abandon(runtime.sessionmaker, hold))


async def _key_scope(runtime: Runtime, request: Request) -> KeyScope | None:
    """Whose key this is, or None when the route will refuse the request before doing anything."""
    path = request.url.path
    try:
        if path == "/v1/admin" or path.startswith("/v1/admin/"):
            await deps.require_admin(runtime, await _bearer(request))
            return idempotency_service.ADMIN_SCOPE
        tenant = await deps.get_api_key(runtime, request.headers.get("x-api-key"))
    except Unauthenticated:
        return None
    try:
        connection_id = uuid.UUID(request.headers.get("x-connection-id", ""))
    except ValueError:
        return None
    return KeyScope.for_connection(tenant.organization_id, connection_id)


def _valid_key(values: list[str]) -> str:
    if len(values) == 1 and _VALID_KEY.fullmatch(values[0]):
        return values[0]
    raise InvalidRequest(
        f"The {HEADER} header must be one value of 1 to 255 visible ASCII characters.",
        details=[
            {
                "loc": ["header", HEADER],
                "msg": "String should be 1 to 255 visible ASCII characters",
                "type": "string_pattern_mismatch",
            }
        ],
    )


async def _buffer_body(receive: Receive, max_bytes: int) -> tuple[list[Message], bool]:
    """Reads the request body up to `max_bytes`; the messages read, and whether they hold all of it."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > max_bytes:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


async def _send_replay(answer: StoredResponse, send: Send) -> None:
    headers = [*answer.headers, (REPLAYED_HEADER.lower().encode(), b"true")]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _settle(step: Awaitable[None]) -> None:
    """Runs a finish/abandon step. A database failure there must not break the answer itself: it is
    logged, and the row stays IN_PROGRESS until its lock runs out (then the key runs again)."""
    try:
        await step
    except Exception:
        log.exception("idempotency.settle_failed")


_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: a repeat with the same key and the same request (method, path, "
        "body) within 24 hours answers the first answer again, marked `Idempotent-Replayed: true`, "
        "without doing the work twice. While the first still runs, a repeat answers 409 "
        "IDEMPOTENCY_IN_PROGRESS (with Retry-After); the same key with another request answers 422 "
        "IDEMPOTENCY_KEY_REUSED. 5xx answers and answers with Retry-After are not kept. Keys are "
        "scoped to the organization and the connection (admin requests: to the admin token)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$", "title": HEADER},
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_RESPONSES = {"409": "Conflict", "422": "Unprocessable Entity"}


def document_idempotency_key(app: FastAPI) -> None:
    """Adds the optional header, and the 409 and 422 it can answer, to every POST under /v1."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for path, operations in build()["paths"].items():
                post = operations.get("post")
                if post is None or not path.startswith("/v1/"):
                    continue
                post.setdefault("parameters", []).append(_PARAMETER)
                for status, description in _RESPONSES.items():
                    post["responses"].setdefault(status, {"description": description, "content": _ERROR})
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
