from __future__ import annotations
import asyncio
import httpx
from tests.builders import make_tenant

async def test_20(client: httpx.AsyncClient) -> None:
    t = await make_tenant(client)
    answers = await asyncio.gather(*(client.post("/v1/itsm/tickets", json={"name": f"F {n}", "project_vendor_id": "DEMO", "type_vendor_id": "10002"}, headers=t.headers) for n in range(20)))
    assert [a.status_code for a in answers] == [200]*20, [a.text[:200] for a in answers if a.status_code != 200][:3]
