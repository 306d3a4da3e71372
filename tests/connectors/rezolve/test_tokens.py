"""The connection's token: cached, refreshed before it expires, one refresh at a time, and renewed
once when Rezolve answers 401 to it."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.errors import VendorAuthError
from ticketbridge.connectors.rezolve.tokens import Token, TokenCache, token_cache_for
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.rezolve import (
    DEMO_READONLY_CLIENT_ID,
    DEMO_READONLY_CLIENT_SECRET,
    OTHER_TENANT_ID,
    RezolveSandboxConfig,
    create_app,
)

from .support import BASE_URL, Control, SteppingTransport, credentials, make_connection, make_item


async def test_one_token_serves_every_call_and_every_unit_of_work(factory: ConnectorFactory, control: Control) -> None:
    connection = make_connection()
    for _ in range(2):  # two units of work on one connection
        connector = factory.build(connection, credentials())
        await asyncio.gather(*(connector.get_ticket(f"REQ-000{n}") for n in (1, 2, 1, 2)))
        await connector.aclose()

    calls = (await control.calls())["calls"]
    assert calls["token"] == 1 and calls["getTicket"] == 8


async def test_a_token_rejected_with_401_is_replaced_once(factory: ConnectorFactory) -> None:
    connection = make_connection()
    first = factory.build(connection, credentials())
    await first.check_health()
    await first.aclose()
    # The sandbox restarts with a new signing key: the cached token is now refused with 401.
    restarted = create_app(RezolveSandboxConfig(base_url=BASE_URL))
    # The same factory (so the same caches), now reaching the restarted sandbox.
    second = dataclasses.replace(factory, transport=SandboxTransport(restarted)).build(connection, credentials())

    ticket = await second.get_ticket("REQ-0001")
    await second.aclose()

    assert ticket.key == "REQ-0001"
    # The cached token was tried and refused, one new token fetched, the call sent again.
    assert (restarted.state.runtime.calls["getTicket"], restarted.state.runtime.calls["token"]) == (2, 1)


async def test_a_permission_failure_is_an_auth_error_without_a_new_token(
    factory: ConnectorFactory, control: Control
) -> None:
    connector = factory.build(
        make_connection(),
        credentials(client_id=DEMO_READONLY_CLIENT_ID, client_secret=DEMO_READONLY_CLIENT_SECRET),
    )
    await connector.get_ticket("REQ-0001")  # reading is allowed

    with pytest.raises(VendorAuthError) as caught:
        await connector.create_tickets([make_item(1)])
    await connector.aclose()

    assert "USER_PERMISSION_FAILURE" in caught.value.message
    calls = (await control.calls())["calls"]
    assert calls["token"] == 1 and calls["createTicket"] == 1


@pytest.mark.parametrize(
    "overrides",
    [{"client_secret": "wrong"}, {"realm": "nowhere"}, {"tenant_id": OTHER_TENANT_ID}],
    ids=["bad-secret", "unknown-realm", "other-tenant"],
)
async def test_health_fails_with_an_auth_error_for_bad_credentials(
    factory: ConnectorFactory, overrides: dict[str, str]
) -> None:
    connector = factory.build(make_connection(), credentials(**overrides))

    with pytest.raises(VendorAuthError):
        await connector.check_health()
    await connector.aclose()


async def test_the_token_is_fetched_from_auth_url_when_one_is_given(
    factory: ConnectorFactory, transport: SteppingTransport
) -> None:
    hosts: list[str] = []

    async def record(request: httpx.Request) -> None:
        hosts.append(request.url.host)

    transport.hooks[("POST", "/openid-connect/token")] = record
    connector = factory.build(make_connection(), credentials(auth_url="http://keycloak.test"))

    await connector.get_ticket("REQ-0001")
    await connector.aclose()

    assert hosts == ["keycloak.test"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_token_is_refreshed_shortly_before_it_expires() -> None:
    clock, fetched = Clock(), []

    async def fetch() -> Token:
        fetched.append(clock.now)
        return Token(value=f"token-{len(fetched)}", expires_in_seconds=300)

    tokens = TokenCache(clock=clock)
    assert await tokens.token(fetch) == "token-1"
    clock.now = 269.0
    assert await tokens.token(fetch) == "token-1"
    clock.now = 271.0  # inside the last 30 s
    assert await tokens.token(fetch) == "token-2"
    assert await tokens.token(fetch, rejected="token-1") == "token-2"  # someone already replaced it
    assert await tokens.token(fetch, rejected="token-2") == "token-3"


async def test_concurrent_callers_share_one_refresh() -> None:
    release = asyncio.Event()
    fetches = 0

    async def fetch() -> Token:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return Token(value="shared", expires_in_seconds=300)

    tokens = TokenCache()
    waiting = [asyncio.create_task(tokens.token(fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()

    assert await asyncio.gather(*waiting) == ["shared"] * 5
    assert fetches == 1


def test_changed_credentials_get_their_own_token_cache() -> None:
    cache = MetadataCache()
    first = token_cache_for(cache, token_url="u", client_id="a", client_secret="s1")

    assert token_cache_for(cache, token_url="u", client_id="a", client_secret="s1") is first
    assert token_cache_for(cache, token_url="u", client_id="a", client_secret="s2") is not first
