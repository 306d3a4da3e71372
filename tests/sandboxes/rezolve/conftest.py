from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve import (
    DEMO_READONLY_CLIENT_ID,
    DEMO_READONLY_CLIENT_SECRET,
    create_app,
)

from .support import BASE_URL, api_headers, fetch_token


@pytest.fixture
def app() -> FastAPI:
    return create_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def writer(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers of the demo read-write service account."""
    return api_headers(await fetch_token(client))


@pytest.fixture
async def reader(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers of the demo client that has both scopes but no write role."""
    return api_headers(await fetch_token(client, DEMO_READONLY_CLIENT_ID, DEMO_READONLY_CLIENT_SECRET))
