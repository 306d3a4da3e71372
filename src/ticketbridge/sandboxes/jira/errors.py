"""Jira's error bodies and status codes, raised from anywhere in the sandbox and rendered once.

JiraError                 ErrorCollection {"errorMessages": [...], "errors": {...}}
BulkOperationError        BulkOperationErrorResponse {"errors": [{"message": ...}]}
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


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


async def render_jira_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JiraError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def render_bulk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BulkOperationError)
    body = {"errors": [{"message": m} for m in exc.messages]}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def fault_body(status: int) -> dict[str, Any]:
    """Body of an injected fault; Jira's gateway answers 5xx and 429 with an ErrorCollection too."""
    text = "Rate limit exceeded." if status == 429 else "Internal server error."
    return {"errorMessages": [text], "errors": {}}
