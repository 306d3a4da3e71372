"""Helpers for sync tests: a transport that records (and can break) the searches a sync sends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.connectors import reroute
from tests.vendors import JIRA_URL
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.sandboxes import jira
from ticketbridge.services import sync
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store


class Crash(Exception):
    """Stands for the process dying mid-sync (not a vendor error: nothing may catch it)."""


class RecordingTransport(httpx.AsyncBaseTransport):
    """Notes the JQL of every /search/jql call."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.queries: list[str] = []

    @property
    def ticket_queries(self) -> list[str]:
        return [q for q in self.queries if q.startswith("updated >=")]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search/jql"):
            self.queries.append(json.loads(request.content)["jql"])
        return await self.inner.handle_async_request(request)


def record(runtime: Runtime) -> RecordingTransport:
    return reroute(runtime, RecordingTransport)


async def connection_of(runtime: Runtime, connection_id: str) -> ConnectionRead:
    async with runtime.sessionmaker.begin() as db:
        return await connections_store.get_connection(db, uuid.UUID(connection_id))


async def run_sync(runtime: Runtime, connection_id: str, *, page_size: int = 100) -> dict[str, Any]:
    """One sync run, outside the job engine (the job handler is tested through the API)."""
    connection = await connection_of(runtime, connection_id)
    return await sync.sync_connection(
        runtime.sessionmaker.begin, runtime.vendor_access, connection, page_size=page_size
    )


async def jira_call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the Jira surface of the sandbox as the demo user (e.g. deleting an issue)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=JIRA_URL, auth=(jira.DEMO_EMAIL, jira.DEMO_API_TOKEN)
    ) as http:
        return await http.request(method, path, **kwargs)
