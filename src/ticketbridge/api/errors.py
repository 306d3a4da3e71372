"""The one place where errors become HTTP: every non-2xx answer is an `ErrorResponse`.

domain error (ticketbridge.errors)  -> its status below
RequestValidationError              -> 422, one `detail` entry per problem with its location
Starlette HTTPException             -> its status (unknown route 404, 405, ...)
anything else                       -> 500 (handled in middleware.py, which also stamps X-Request-ID)
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketbridge import errors
from ticketbridge.api.models.errors import ErrorResponse

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
    errors.VendorAuthFailed: 502,
    errors.RateLimited: 429,
    errors.ServiceUnavailable: 503,
}
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


def status_for(exc: errors.TicketbridgeError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS_BY_ERROR:
            return _STATUS_BY_ERROR[cls]
    return 500


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TicketbridgeError)
    headers = None
    if exc.retry_after_seconds is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_seconds)))}
    return error_response(status_for(exc), exc.code, exc.message, exc.details, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return error_response(422, "MALFORMED_JSON", "The request body is not valid JSON.", _details(problems))
    return error_response(422, "VALIDATION_ERROR", "The request is invalid.", _details(problems))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "No such endpoint."
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


def _details(problems: list[Any]) -> list[dict[str, Any]]:
    # Pydantic's `input` and `ctx` may echo the caller's secrets back; location and message suffice.
    return [{"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]} for problem in problems]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.TicketbridgeError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
