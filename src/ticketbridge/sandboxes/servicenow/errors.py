"""ServiceNow's error bodies and status codes, raised anywhere in the sandbox and rendered once.

Every REST error is `{"error": {"message", "detail"}, "status": "failure"}`; the OAuth endpoint answers
`{"error", "error_description"}` instead. Messages are ServiceNow's where its docs or its answers print
them (README.md names the ones that are inferred).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

MEDIA_TYPE = "application/json;charset=UTF-8"
NOT_FOUND = "No Record found"
RECORD_NOT_FOUND = "Record doesn't exist or ACL restricts the record retrieval"
QUERY_NOT_FOUND = "Records matching query not found. Check query parameter or offset parameter"
OPERATION_FAILED = "Operation Failed"


class ServiceNowJSONResponse(JSONResponse):
    media_type = MEDIA_TYPE


class ServiceNowError(Exception):
    def __init__(
        self, status: int, message: str, detail: str | None = None, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, detail)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.detail)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error
        self.description = description


def error_body(message: str, detail: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def not_authenticated() -> ServiceNowError:
    return ServiceNowError(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
        headers={"WWW-Authenticate": 'Basic realm="Service-now"'},
    )


def record_not_found() -> ServiceNowError:
    return ServiceNowError(404, NOT_FOUND, RECORD_NOT_FOUND)


def query_not_found() -> ServiceNowError:
    """What v1 of the Table API answers for a valid query that matches nothing."""
    return ServiceNowError(404, NOT_FOUND, QUERY_NOT_FOUND)


def invalid_table(table: str) -> ServiceNowError:
    return ServiceNowError(400, f"Invalid table {table}")


def acl_denied(operation: str) -> ServiceNowError:
    """`operation` is Insert, Update or Delete."""
    return ServiceNowError(403, OPERATION_FAILED, f"ACL Exception {operation} Failed due to security constraints")


def data_policy(labels: list[str]) -> ServiceNowError:
    return ServiceNowError(
        403,
        OPERATION_FAILED,
        "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(labels) + "\n",
    )


def bad_payload() -> ServiceNowError:
    return ServiceNowError(400, "Exception while reading request", "The payload is not valid JSON.")


def fault_body(status: int) -> dict[str, Any]:
    """Body of an injected fault or a throttled request."""
    if status == 429:
        return error_body("Rate limit exceeded", "Rate limit exceeded")
    return error_body("Internal server error", f"The server answered {status}")


def render(error: ServiceNowError) -> Response:
    return ServiceNowJSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def render_servicenow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceNowError)
    return render(exc)


async def render_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return JSONResponse({"error_description": exc.description, "error": exc.error}, status_code=exc.status)


async def render_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return render(ServiceNowError(400, "Invalid request", detail))


async def render_http_error(request: Request, exc: Exception) -> Response:
    """Paths and methods the instance does not serve, answered as ServiceNow answers them."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return render(ServiceNowError(400, "Requested URI does not represent any resource"))
    if exc.status_code == 405:
        return render(ServiceNowError(405, "Method not Supported", "HTTP method not supported by the resource"))
    return render(ServiceNowError(exc.status_code, str(exc.detail)))
