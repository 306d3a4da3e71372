"""Jira's error bodies and status codes, raised from anywhere in the sandbox and rendered once.

JiraError                 ErrorCollection {"errorMessages": [...], "errors": {...}}
BulkOperationError        BulkOperationErrorResponse {"errors": [{"message": ...}]}

Under `/rest/api/{version}/bulk/` every error, a JiraError (401 included) or a request Jira could not
read, is answered as BulkOperationErrorResponse, the only error shape those operations document.
Nothing FastAPI or pydantic would say reaches a client: unserved paths answer Jira's 404/405, and
parameters that do not parse answer Jira's 400 naming the parameter.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
RATE_LIMITED = "Rate limit exceeded."
BULK_PATH = re.compile(r"^/rest/api/[^/]+/bulk/")


class JiraJSONResponse(JSONResponse):
    """JSON as Jira sends it: `Content-Type: application/json;charset=UTF-8`."""

    media_type = "application/json;charset=UTF-8"


class JiraError(Exception):
    """An error answered with Jira's ErrorCollection body."""

    def __init__(
        self,
        status: int,
        messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, messages, errors)
        self.status = status
        self.messages = messages or []
        self.errors = errors or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


class BulkOperationError(Exception):
    """An error of the bulk-operations family, whose body differs from ErrorCollection."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, messages)
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


def issue_not_found() -> JiraError:
    return JiraError(404, [ISSUE_NOT_FOUND])


def not_authenticated() -> JiraError:
    return JiraError(401, [NOT_AUTHENTICATED], headers={"WWW-Authenticate": 'Basic realm="protected-area"'})


def is_bulk_operation(request: Request) -> bool:
    return bool(BULK_PATH.match(request.url.path))


def bulk_body(messages: list[str]) -> dict[str, Any]:
    return {"errors": [{"message": m} for m in messages]}


def render_error(request: Request, exc: Exception) -> JiraJSONResponse:
    """The answer to any error a Jira operation raises, in the shape its path documents."""
    if isinstance(exc, BulkOperationError):
        return JiraJSONResponse(bulk_body(exc.messages), status_code=exc.status, headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        exc = JiraError(400, [_parameter_message(e) for e in exc.errors()])
    assert isinstance(exc, JiraError), exc
    if is_bulk_operation(request):
        messages = exc.messages + list(exc.errors.values())
        return JiraJSONResponse(bulk_body(messages), status_code=exc.status, headers=exc.headers)
    return JiraJSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def render_exception(request: Request, exc: Exception) -> JiraJSONResponse:
    """Exception handler of the app, for errors raised outside a Jira route (the control API)."""
    return render_error(request, exc)


async def render_unserved(request: Request, exc: Exception) -> JiraJSONResponse:
    """Starlette's own 404 and 405 (no route, or not this method), in Jira's ErrorCollection."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = JiraError(405, ["Method Not Allowed"], headers=dict(exc.headers or {}))
    elif exc.status_code == 404:
        error = JiraError(404, [f"null for uri: {request.url}"])
    else:
        error = JiraError(exc.status_code, [str(exc.detail)], headers=dict(exc.headers or {}))
    return render_error(request, error)


def _parameter_message(error: Any) -> str:
    """Jira's words for a query or path parameter that is missing or does not parse."""
    loc = [str(part) for part in error.get("loc", ())]
    name = loc[-1] if loc else "request"
    if error.get("type") == "missing":
        return f"The '{name}' parameter is required."
    value = error.get("input")
    return f"The value '{value}' is not valid for the '{name}' parameter."


def fault_body(status: int) -> dict[str, Any]:
    """Body of an injected fault; Jira's gateway answers 5xx and 429 with an ErrorCollection too."""
    text = RATE_LIMITED if status == 429 else "Internal server error."
    return {"errorMessages": [text], "errors": {}}
