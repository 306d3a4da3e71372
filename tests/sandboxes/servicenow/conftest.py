from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.servicenow import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    ITIL_PASSWORD,
    ITIL_USERNAME,
    REQUESTER_PASSWORD,
    REQUESTER_USERNAME,
    ServiceNowSandboxConfig,
    create_app,
)

BASE_URL = "http://servicenow.test"


@pytest.fixture
def sandbox_config() -> ServiceNowSandboxConfig:
    """The sandbox's defaults, its rate-limit rule on as on an instance; tests of the limits set their own
    rules (`PUT /__sandbox__/rate-limits`)."""
    return ServiceNowSandboxConfig(base_url=BASE_URL)


@pytest.fixture
def app(sandbox_config: ServiceNowSandboxConfig) -> FastAPI:
    return create_app(sandbox_config)


def _client(app: FastAPI, auth: tuple[str, str] | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL, auth=auth)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated as the demo admin."""
    async with _client(app, (DEMO_USERNAME, DEMO_PASSWORD)) as http:
        yield http


@pytest.fixture
async def itil(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, (ITIL_USERNAME, ITIL_PASSWORD)) as http:
        yield http


@pytest.fixture
async def requester(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, (REQUESTER_USERNAME, REQUESTER_PASSWORD)) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, None) as http:
        yield http
