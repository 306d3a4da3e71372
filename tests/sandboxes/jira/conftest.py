from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, RateLimitConfig, create_app

BASE_URL = "http://jira.test"


@pytest.fixture
def sandbox_config() -> JiraSandboxConfig:
    """No search lag (the default is Jira's 2 s) and no rate limits (on by default, at Jira's values):
    tests of the lag or the limits ask for them."""
    return JiraSandboxConfig(base_url=BASE_URL, search_lag_ms=0, rate_limits=RateLimitConfig(enabled=False))


@pytest.fixture
def app(sandbox_config: JiraSandboxConfig) -> FastAPI:
    return create_app(sandbox_config)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated as the demo admin, through the transport that turns broken sockets into errors."""
    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url=BASE_URL, auth=(DEMO_EMAIL, DEMO_API_TOKEN)
    ) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        yield http
