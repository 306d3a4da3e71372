"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from ticketbridge.api.deps import RuntimeDep
from ticketbridge.api.models.errors import error_responses
from ticketbridge.errors import DatabaseUnavailable, NotMigrated
from ticketbridge.store import migrate

router = APIRouter(tags=["Health"])


class HealthModel(BaseModel):
    status: str


@router.get("/healthz", operation_id="healthz")
async def healthz() -> HealthModel:
    """The process is up."""
    return HealthModel(status="ok")


@router.get("/readyz", operation_id="readyz", responses=error_responses(503))
async def readyz(runtime: RuntimeDep) -> HealthModel:
    """The database answers and its schema is at the head migration."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseUnavailable() from exc
    if not await migrate.is_at_head(runtime.engine):
        raise NotMigrated()
    return HealthModel(status="ready")
