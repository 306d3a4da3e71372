from __future__ import annotations

import collections
import json

import httpx
from fastapi import FastAPI

from tests.api.test_tickets import sandbox
from tests.builders import make_tenant
from tests.services.support import run_sync
from ticketbridge.state import Runtime


class Rec(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        desc = f"{request.method} {request.url.path}"
        if request.url.path.endswith("/search/jql"):
            body = json.loads(request.content)
            desc += f" {body['jql']} max={body.get('maxResults')} fields={len(body.get('fields') or [])}"
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/search/jql"):
            await response.aread()
            desc += f" -> {len(response.json().get('issues') or [])}"
        self.calls.append(desc)
        return response


async def test_calls(client: httpx.AsyncClient, runtime: Runtime, jira_sandbox: FastAPI) -> None:
    tenant = await make_tenant(client)
    await sandbox(jira_sandbox, "POST", "/seed", json={"issues": 5000})
    rec = Rec(runtime.connectors.transport)  # type: ignore[arg-type]
    runtime.connectors.transport = rec
    await run_sync(runtime, tenant.connection_id)
    for c in rec.calls:
        print(c)
    print(len(rec.calls), collections.Counter(c.split(" ")[1] for c in rec.calls))
