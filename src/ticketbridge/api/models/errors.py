"""The error body every non-2xx response carries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorResponse(BaseModel):
    model_config = ConfigDict(title="ErrorResponse")

    type: str = Field(title="Type", description="Type of error")
    code: str = Field(title="Code", description="Error code")
    message: str = Field(title="Message", description="Error message")
    detail: list[dict[str, Any]] = Field(title="Detail", description="List of error dictionaries")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting each error status a route can produce."""
    descriptions = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        409: "Conflict",
        412: "Precondition Failed",
        413: "Payload Too Large",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in codes}
