from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from openapi_core import OpenAPI

from tests.sandboxes.jira.conformance_support import Served, serve_recorded, validate_recorded
from tests.sandboxes.jira.openapi_support import load_openapi
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, RateLimitConfig, create_app

BASE_URL = "http://jira.test"


@pytest.fixture(scope="session")
def jira_openapi() -> OpenAPI:
    """Atlassian's OpenAPI document, loaded once per run (about 13 s)."""
    return load_openapi()


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


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The client conformance suites' sandbox on a real socket, every answer recorded."""
    yield from serve_recorded()


@pytest.fixture
def conformant(served: Served, jira_openapi: OpenAPI) -> Iterator[None]:
    """Every answer a test of a conformance suite got, validated against the document afterwards."""
    served.reset()
    yield
    validate_recorded(jira_openapi, served)
