"""GET /v1/connection: the connection the request's headers name, as its API key sees it."""

from __future__ import annotations

from fastapi import APIRouter

from ticketbridge.api.deps import ConnectionDep
from ticketbridge.api.models.admin import ConnectionHealthModel, ConnectionModel
from ticketbridge.api.models.errors import error_responses

router = APIRouter(prefix="/v1", tags=["Connection"], responses=error_responses(401, 404, 409, 422, 500))


@router.get("/connection", operation_id="get_current_connection")
async def get_current_connection(connection: ConnectionDep) -> ConnectionHealthModel:
    """The health of the connection named by X-CONNECTION-ID: a cheap check of both headers."""
    return ConnectionModel.of(connection).health
