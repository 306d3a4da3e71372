from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve import RezolveSandboxConfig, create_app

from .support import BASE_URL, Control, SteppingTransport, credentials, make_connection


@pytest.fixture(scope="module")
def app() -> FastAPI:
    # One sandbox per module, reset before each test: a new one per test would cost an RSA key each.
    return create_app(RezolveSandboxConfig(base_url=BASE_URL))


@pytest.fixture
async def fresh_sandbox(app: FastAPI) -> None:
    """Demo data as at start, no faults, no calls counted."""
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        for response in [
            await http.post("/__sandbox__/reset"),
            await http.put("/__sandbox__/faults", json={}),
            await http.delete("/__sandbox__/calls"),
        ]:
            assert response.is_success, response.text


@pytest.fixture
def transport(app: FastAPI, fresh_sandbox: None) -> SteppingTransport:
    return SteppingTransport(SandboxTransport(app))


@pytest.fixture
def factory(transport: SteppingTransport) -> ConnectorFactory:
    return ConnectorFactory(transport=transport)


@pytest.fixture
async def connector(factory: ConnectorFactory) -> AsyncIterator[RezolveConnector]:
    built = factory.build(make_connection(), credentials())
    assert isinstance(built, RezolveConnector)
    yield built
    await built.aclose()


@pytest.fixture
async def control(app: FastAPI, fresh_sandbox: None) -> AsyncIterator[Control]:
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        yield Control(http)
