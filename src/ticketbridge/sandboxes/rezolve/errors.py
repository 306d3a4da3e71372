"""Rezolve's error bodies and status codes, raised from anywhere in the sandbox and rendered once.

    RezolveError     the ticketing API's flat body: {"error": true, "code"?, "message", "status"?, ...}
    TokenError       Keycloak's token-endpoint body: {"error", "error_description"}

The bodies the seed prints (ETAG_MISMATCH, USER_PERMISSION_FAILURE, "Ticket not found (X)") are
reproduced character for character; the others follow the same shape (reference §4).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

ETAG_MISMATCH_MESSAGE = "Ticket might have been updated. Please check changes and resubmit"
INPUT_VALIDATION_MESSAGE = "Input validation failed"


class RezolveError(Exception):
    """An error answered with Rezolve's flat body; `code` and `status` are left out when None."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        include_status: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.code = code
        self.include_status = include_status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": True}
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        if self.include_status:
            body["status"] = self.status
        return body | self.extra


class TokenError(Exception):
    """A Keycloak token-endpoint error."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error
        self.description = description


def etag_mismatch() -> RezolveError:
    return RezolveError(400, ETAG_MISMATCH_MESSAGE, code="ETAG_MISMATCH")


def input_validation_failure(reason: dict[str, str]) -> RezolveError:
    return RezolveError(
        400,
        INPUT_VALIDATION_MESSAGE,
        code="INPUT_VALIDATION_FAILURE",
        extra={"validationResult": {"reason": reason}},
    )


def permission_failure(action: str) -> RezolveError:
    """The seed's body for `action="update"`; other actions reuse it with their own verb."""
    return RezolveError(401, f"You do not have the permission to {action} the ticket", code="USER_PERMISSION_FAILURE")


def unauthorized() -> RezolveError:
    return RezolveError(401, "Invalid or expired token", code="UNAUTHORIZED")


def not_found(message: str) -> RezolveError:
    """The seed's 404 shape: no code, no status."""
    return RezolveError(404, message, include_status=False)


def ticket_not_found(object_id: str) -> RezolveError:
    return not_found(f"Ticket not found ({object_id})")


def tenant_not_found() -> RezolveError:
    return not_found("Tenant not found")


def invalid_filter(message: str) -> RezolveError:
    return RezolveError(422, message, code="INVALID_FILTER")


def fault_body(status: int) -> dict[str, Any]:
    """Body of an injected fault or a throttled request."""
    if status == 429:
        return {"error": True, "code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests", "status": 429}
    return {"error": True, "message": "Internal server error", "status": status}


async def render_rezolve_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RezolveError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def render_token_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TokenError)
    return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status)


async def render_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Request bodies that do not parse fail as Rezolve fails them, never with FastAPI's 422."""
    assert isinstance(exc, RequestValidationError)
    reason: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error["loc"][1:]] or [str(error["loc"][0])]
        key = ".".join(location)
        reason[key] = f"{key} is required" if error["type"] == "missing" else str(error["msg"])
    return JSONResponse(input_validation_failure(reason).body(), status_code=400)
