from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.support.connectors import connectors_of
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.servicenow.connector import ServiceNowConnector
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.servicenow import ServiceNowSandboxConfig, create_app

from .support import BASE_URL, CONTROL, Instance, RecordingTransport, credentials, make_connection

Build = Callable[..., ServiceNowConnector]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """At the sandbox's defaults (its rate-limit rule on): one per module, reset before each test."""
    return create_app(ServiceNowSandboxConfig(base_url=BASE_URL))


@pytest.fixture
async def fresh_sandbox(app: FastAPI) -> None:
    """Demo data as at start, no faults, no calls counted."""
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        for response in [
            await http.post(f"{CONTROL}/reset"),
            await http.put(f"{CONTROL}/faults", json={}),
            await http.delete(f"{CONTROL}/calls"),
        ]:
            assert response.is_success, response.text


@pytest.fixture
def transport(app: FastAPI, fresh_sandbox: None) -> RecordingTransport:
    return RecordingTransport(SandboxTransport(app))


@pytest.fixture
def factory(transport: RecordingTransport) -> ConnectorFactory:
    return ConnectorFactory(transport=transport)


@pytest.fixture
async def build(factory: ConnectorFactory) -> AsyncIterator[Build]:
    """Connectors of one connection (one metadata cache), with credential overrides."""
    async with connectors_of(factory, make_connection(), credentials()) as build:
        yield lambda **overrides: servicenow(build(**overrides))


def servicenow(connector: Connector) -> ServiceNowConnector:
    assert isinstance(connector, ServiceNowConnector)
    return connector


@pytest.fixture
def connector(build: Build) -> ServiceNowConnector:
    return build()


@pytest.fixture
async def instance(app: FastAPI, fresh_sandbox: None) -> AsyncIterator[Instance]:
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        yield Instance(http)
