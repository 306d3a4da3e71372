"""ASGI middleware: request ids and access log, body size limit, and the last-resort 500.

Pure ASGI rather than BaseHTTPMiddleware, so that streaming and background tasks stay untouched.
"""

from __future__ import annotations

import re
import time
import uuid

import sqlalchemy.exc
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketbridge.api.errors import database_busy_response, error_response
from ticketbridge.observability import get_logger, request_id_var

log = get_logger("ticketbridge.api")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestContextMiddleware:
    """Gives every request an id (the caller's X-Request-ID if sane), echoes it on the response,
    logs one line per request, and turns an unhandled exception into an ErrorResponse 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except sqlalchemy.exc.TimeoutError as exc:  # raised outside the routes, e.g. in a middleware
            if response_started:
                raise
            await database_busy_response(scope["method"], scope["path"], exc)(scope, receive, send_with_id)
        except Exception:
            log.exception("http.unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            response = error_response(500, "INTERNAL_ERROR", "An unexpected error occurred.")
            await response(scope, receive, send_with_id)
        finally:
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Answers 413 for a body over the limit, by Content-Length or as it streams in.

    The body is read here, up to the limit, and replayed to the app: FastAPI would turn an error
    raised from inside its own body parsing into a 400, so the check has to finish first.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "PAYLOAD_TOO_LARGE", f"The request body exceeds the limit of {self.max_bytes} bytes."
        )
        await response(scope, receive, send)
