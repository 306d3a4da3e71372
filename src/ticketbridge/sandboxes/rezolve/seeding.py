"""The seed format of `POST /__sandbox__/seed`: generated Service Requests in one tenant."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.rezolve.demo import DEMO_TENANT_ID


class SeedRequest(BaseModel):
    count: int = Field(10, ge=1, le=1000)
    tenantId: str = DEMO_TENANT_ID
