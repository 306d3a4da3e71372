"""What the custom-field tests of every vendor set up: a tenant connected to a sandbox whose ticket
types carry the fields the test configured, its creates, and the vendor's call counts that prove a
refused write never reached the vendor."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import httpx
from starlette.types import ASGIApp

from tests.builders import Tenant
from tests.support.sandboxes import calls


@dataclass(frozen=True)
class FieldsTenant(Tenant):
    """A tenant of `sandbox`, as `client` reaches the API."""

    client: httpx.AsyncClient
    sandbox: ASGIApp
    #: The vendor's operations that create tickets.
    create_operations: tuple[str, ...]

    @classmethod
    def of(
        cls,
        tenant: Tenant,
        client: httpx.AsyncClient,
        sandbox: ASGIApp,
        create_operations: tuple[str, ...],
    ) -> FieldsTenant:
        base = {field.name: getattr(tenant, field.name) for field in fields(Tenant)}
        return cls(**base, client=client, sandbox=sandbox, create_operations=create_operations)

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        """POST /v1/itsm/tickets as this tenant."""
        return await self.client.post("/v1/itsm/tickets", json=body, headers=self.headers)

    async def vendor_calls(self, operation: str) -> int:
        """Requests that reached the vendor's `operation` so far."""
        return (await calls(self.sandbox)).get(operation, 0)

    async def vendor_creates(self) -> int:
        counted = await calls(self.sandbox)
        return sum(counted.get(operation, 0) for operation in self.create_operations)


def problems(response: httpx.Response) -> dict[str, str]:
    """An error answer's `detail` as {last loc segment: type}."""
    return {str(problem["loc"][-1]): problem["type"] for problem in response.json()["detail"]}
