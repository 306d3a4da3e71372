"""One keep-alive HTTP pool per vendor connection, shared by its operations: reused while nothing the
connection depends on changes, replaced (and the old one closed) when its credentials or site do,
bounded in number, never shared between connections, and closed at shutdown."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.connectors.test_http import JIRA_CREDENTIALS, make_connection
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorAuthError
from ticketbridge.connectors.http import ConnectionTransports, build_client
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.faults import SandboxTransport


class Recorded(httpx.AsyncBaseTransport):
    """A pool's transport that goes to an in-process sandbox and remembers whether it was closed."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = SandboxTransport(app)
        self.requests = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert not self.closed, "a request on a closed pool"
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True


class Builds:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.built: list[Recorded] = []

    def __call__(self, proxy: str | None) -> httpx.AsyncBaseTransport:
        assert proxy is None  # no proxy in the test environment
        transport = Recorded(self.app)
        self.built.append(transport)
        return transport


@pytest.fixture
def builds(jira_sandbox: FastAPI) -> Builds:
    return Builds(jira_sandbox)


async def test_operations_on_one_connection_share_its_pool_and_other_connections_get_their_own(
    builds: Builds,
) -> None:
    factory = ConnectorFactory(transports=ConnectionTransports(build=builds))
    connection, other = make_connection(Vendor.JIRA), make_connection(Vendor.JIRA)

    for _ in range(3):
        connector = factory.build(connection, JIRA_CREDENTIALS)
        await connector.check_health()
        await connector.aclose()
    assert len(builds.built) == 1 and builds.built[0].requests >= 3 and not builds.built[0].closed

    connector = factory.build(other, JIRA_CREDENTIALS)
    await connector.check_health()
    await connector.aclose()
    assert len(builds.built) == 2 and builds.built[1].requests >= 1


async def test_new_credentials_get_a_new_pool_and_the_old_one_closes_after_its_last_operation(
    builds: Builds,
) -> None:
    factory = ConnectorFactory(transports=ConnectionTransports(build=builds))
    connection = make_connection(Vendor.JIRA)
    running = factory.build(connection, JIRA_CREDENTIALS)
    await running.check_health()

    rotated = {"email": jira.DEMO_EMAIL, "api_token": "rotated"}
    after_rotation = factory.build(connection, rotated)
    with pytest.raises(VendorAuthError):  # the sandbox knows only the demo token; it was asked all the same
        await after_rotation.check_health()
    await after_rotation.aclose()
    old, new = builds.built
    assert not old.closed, "an operation still running keeps its pool"

    await running.check_health()  # the running operation goes on, on its own pool
    await running.aclose()
    assert old.closed and not new.closed and len(factory.transports) == 1


async def test_the_least_recently_used_pool_beyond_the_bound_is_closed(builds: Builds) -> None:
    factory = ConnectorFactory(transports=ConnectionTransports(max_pools=2, build=builds))
    first, second, third = (make_connection(Vendor.JIRA) for _ in range(3))
    for connection in (first, second, first, third):  # `second` is now the least recently used
        connector = factory.build(connection, JIRA_CREDENTIALS)
        await connector.check_health()
        await connector.aclose()

    assert [transport.closed for transport in builds.built] == [False, True, False]
    assert len(factory.transports) == 2


async def test_shutdown_closes_every_pool_and_a_late_request_is_refused(builds: Builds) -> None:
    factory = ConnectorFactory(transports=ConnectionTransports(build=builds))
    connector = factory.build(make_connection(Vendor.JIRA), JIRA_CREDENTIALS)
    await connector.check_health()

    await factory.aclose()

    assert builds.built[0].closed and len(factory.transports) == 0
    with pytest.raises(RuntimeError, match="closed"):
        await connector.check_health()
    await connector.aclose()


def _echo_port_app(_url: str) -> FastAPI:
    app = FastAPI()

    @app.get("/port")
    async def port(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"port": request.client.port}

    return app


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    yield from serve_in_thread(_echo_port_app)


async def test_over_real_tcp_a_second_operation_reuses_the_first_ones_connection(echo_url: str) -> None:
    transports = ConnectionTransports()

    async def client_port(depends_on: str) -> int:
        lease = transports.lease("connection-1", depends_on)
        async with build_client(echo_url, auth=None, transport=lease, timeout_secs=5) as client:
            response = await client.get("/port")
        response.raise_for_status()
        port: int = response.json()["port"]
        return port

    try:
        first = await client_port("credentials-a")
        assert await client_port("credentials-a") == first  # kept alive across operations
        assert await client_port("credentials-b") != first  # new credentials, new connections
    finally:
        await transports.aclose()


async def test_a_given_transport_is_reached_through_the_connections_pools_and_never_closed_by_them(
    jira_sandbox: FastAPI,
) -> None:
    """Tests and the demo hand the factory one transport to their in-process sandboxes: operations
    still lease the connection's pool and pass its rate-limit gates, as in production, and a copy
    of the factory (as an OAuth connection's unit of work makes) shares them."""
    given = Recorded(jira_sandbox)
    factory = ConnectorFactory(transport=given)
    connection = make_connection(Vendor.JIRA)
    copy = dataclasses.replace(factory)
    assert copy.transports is factory.transports
    for built_by in (factory, copy):
        connector = built_by.build(connection, JIRA_CREDENTIALS)
        await connector.check_health()
        await connector.aclose()
    assert len(factory.transports) == 1 and given.requests >= 2
    await factory.aclose()
    assert not given.closed  # its owner closes it
