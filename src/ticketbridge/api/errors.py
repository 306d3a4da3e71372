"""The one place where errors become HTTP: every non-2xx answer is an `ErrorResponse`.

domain error (ticketbridge.errors)  -> its status below; a 401 names the credential (WWW-Authenticate)
RequestValidationError              -> 422, one `detail` entry per problem with its location
                                       (MALFORMED_JSON for a body that does not parse, is not UTF-8
                                       or is nested too deep)
Starlette HTTPException             -> its status (unknown route 404, 405 with Allow, ...)
sqlalchemy TimeoutError (pool full)  -> 503 DATABASE_BUSY with Retry-After
anything else                       -> 500 (handled in middleware.py, which also stamps X-Request-ID)
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ticketbridge import errors
from ticketbridge.api.models.errors import ErrorResponse
from ticketbridge.observability import get_logger

T = TypeVar("T")
log = get_logger("ticketbridge.api")
#: Retry-After of a 503 answered because every pooled database connection was taken.
DATABASE_BUSY_RETRY_SECONDS = 2

ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "vendor_error",
    503: "service_unavailable",
}
_STATUS_BY_ERROR: dict[type[errors.TicketbridgeError], int] = {
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.InvalidRequest: 422,
    errors.BadVendorQuery: 400,
    errors.OAuthFlowFailed: 400,
    errors.VendorAuthFailed: 502,
    errors.RateLimited: 429,
    errors.ServiceUnavailable: 503,
}
#: The challenge a 401 carries (RFC 9110 §11.6.1): which credential to send, and where.
_CHALLENGES: dict[type[errors.TicketbridgeError], str] = {
    errors.AdminUnauthenticated: 'Bearer realm="ticketbridge-admin"',
    errors.Unauthenticated: 'ApiKey realm="ticketbridge", header="X-API-KEY"',
}
#: The methods a 405's Allow may name.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HTTP_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(
    status: int,
    code: str,
    message: str,
    detail: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(type=ERROR_TYPES.get(status, "error"), code=code, message=message, detail=detail or [])
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _most_specific(exc: errors.TicketbridgeError, table: dict[type[errors.TicketbridgeError], T]) -> T | None:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def status_for(exc: errors.TicketbridgeError) -> int:
    status = _most_specific(exc, _STATUS_BY_ERROR)
    return 500 if status is None else status


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TicketbridgeError)
    headers: dict[str, str] = {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_seconds)))
    challenge = _most_specific(exc, _CHALLENGES)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return error_response(status_for(exc), exc.code, exc.message, exc.details, headers or None)


async def domain_error_response(request: Request, exc: errors.TicketbridgeError) -> JSONResponse:
    """The same answer for a domain error met in ASGI middleware, outside the exception handlers."""
    return await _domain_error(request, exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return _malformed_json(_details(problems))
    return error_response(422, "VALIDATION_ERROR", "The request is invalid.", _details(problems))


def _malformed_json(detail: list[dict[str, Any]]) -> JSONResponse:
    return error_response(422, "MALFORMED_JSON", "The request body is not valid JSON.", detail)


def _is_undecodable_body(exc: StarletteHTTPException) -> bool:
    # FastAPI answers a body that json.loads cannot even decode (invalid UTF-8; RecursionError from
    # deep nesting) with a bare 400 raised from that error: it is malformed JSON like any other.
    return exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if _is_undecodable_body(exc):
        cause = type(exc.__cause__).__name__
        return _malformed_json([{"loc": ["body"], "msg": f"Cannot decode the body ({cause})", "type": "json_invalid"}])
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "No such endpoint."
    headers = dict(exc.headers or {})
    allowed = _allowed_methods(request) if exc.status_code == 405 else ""
    if allowed:
        headers["Allow"] = allowed
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method the path answers, probed route by route: Starlette's own Allow names only the
    first route that matched the path, and GET and POST on one path are two routes here."""
    probe = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("root_path", ""),
        "headers": [],
    }
    routes = request.app.router.routes
    # A fresh scope per probe: matching writes into the scope it is given.
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**probe, "method": method})[0] is Match.FULL for route in routes)
    )


def _details(problems: list[Any]) -> list[dict[str, Any]]:
    # Pydantic's `input` and `ctx` may echo the caller's secrets back; location and message suffice.
    return [{"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]} for problem in problems]


def database_busy_response(method: str, path: str, exc: Exception) -> JSONResponse:
    """Every pooled database connection stayed taken for the pool's whole timeout: the process is
    overloaded, not broken, so the caller is told to retry rather than shown a 500."""
    log.warning("http.database_busy", method=method, path=path, error=str(exc))
    return error_response(
        503,
        "DATABASE_BUSY",
        "The service is overloaded right now; retry shortly.",
        headers={"Retry-After": str(DATABASE_BUSY_RETRY_SECONDS)},
    )


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    return database_busy_response(request.method, request.url.path, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.TicketbridgeError, _domain_error)
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _database_busy)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
