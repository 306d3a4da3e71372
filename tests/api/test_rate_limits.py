"""Inbound rate limits (api/ratelimit.py): per API key, per organization across its keys, per admin
token; the headers on every limited answer; what is never limited; Redis shared by several apps."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from pydantic import ValidationError

from tests.builders import ADMIN, Tenant, make_api_key, make_tenant
from tests.conftest import make_settings
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.state import Runtime

KEY_LIMIT = 10
ORGANIZATION_LIMIT = 15
REDIS_URL = os.environ.get("TICKETBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_LIMIT = re.compile(r'"(?P<name>\w+)";r=(?P<r>\d+);t=(?P<t>\d+)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return limited_settings(database_url, tmp_path)


def limited_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        rate_limit_per_key=f"{KEY_LIMIT}/minute",
        rate_limit_per_organization=f"{ORGANIZATION_LIMIT}/minute",
        **overrides,
    )


@asynccontextmanager
async def redis_key_prefix() -> AsyncIterator[str]:
    """A key prefix of its own on the test Redis, its keys deleted afterwards. Skips when Redis does
    not answer, except under CI=true, where it must."""
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"Redis is required in CI but unreachable at {REDIS_URL}") from exc
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    prefix = f"tb-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with redis_key_prefix() as prefix:
        yield prefix


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, as uvicorn runs it (the lifespan closes the limiter's Redis pool)."""
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def list_tickets(client: httpx.AsyncClient, tenant: Tenant) -> httpx.Response:
    return await client.get("/v1/itsm/tickets", headers=tenant.headers)


async def sibling(client: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """A second key of the tenant's organization, on the same connection."""
    key = await make_api_key(client, tenant.organization_id)
    return Tenant(organization_id=tenant.organization_id, api_key=key, connection_id=tenant.connection_id)


async def test_a_bursting_key_is_refused_while_another_key_of_its_organization_is_served(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant(client)
    other = await sibling(client, tenant)
    answers = [await list_tickets(client, tenant) for _ in range(KEY_LIMIT + 2)]
    assert [answer.status_code for answer in answers] == [200] * KEY_LIMIT + [429, 429]

    refused = answers[-1]
    body = refused.json()
    assert (body["type"], body["code"]) == ("rate_limited", "TOO_MANY_REQUESTS")
    assert body["message"].startswith("This API key is over its rate limit of 10 requests per 60 s")
    assert body["detail"] == [{"policy": "key", "limit": KEY_LIMIT, "window_seconds": 60}]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == ("10", "0")
    assert refused.headers["X-Request-ID"]
    # The refused requests cost the organization nothing: its other key is served.
    assert (await list_tickets(client, other)).status_code == 200


async def test_the_organization_limit_caps_its_keys_together(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    other = await sibling(client, tenant)
    stranger = await make_tenant(client, "Globex")
    assert [(await list_tickets(client, tenant)).status_code for _ in range(KEY_LIMIT)] == [200] * KEY_LIMIT

    answers = [await list_tickets(client, other) for _ in range(ORGANIZATION_LIMIT - KEY_LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [200] * (ORGANIZATION_LIMIT - KEY_LIMIT) + [429]
    refused = answers[-1]
    assert refused.json()["message"].startswith("This API key's organization (all its keys together) is over")
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == ("15", "0")
    assert int(refused.headers["Retry-After"]) >= 1
    # Its key window still had room: both windows are reported.
    assert {name: left for name, (left, _) in parse_rate_limit(refused.headers["RateLimit"]).items()} == {
        "key": 4,
        "organization": 0,
    }
    assert (await list_tickets(client, stranger)).status_code == 200


async def test_every_limited_answer_carries_consistent_headers(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    first, second = [await list_tickets(client, tenant) for _ in range(2)]
    missing = await client.get(f"/v1/itsm/tickets/{uuid.uuid4()}", headers=tenant.headers)
    assert (first.status_code, second.status_code, missing.status_code) == (200, 200, 404)

    for answer, used in [(first, 1), (second, 2), (missing, 3)]:
        headers = answer.headers
        assert headers["X-RateLimit-Limit"] == str(KEY_LIMIT)
        assert headers["X-RateLimit-Remaining"] == str(KEY_LIMIT - used)
        assert headers["RateLimit-Policy"] == '"key";q=10;w=60, "organization";q=15;w=60'
        windows = parse_rate_limit(headers["RateLimit"])
        assert {name: left for name, (left, _) in windows.items()} == {
            "key": KEY_LIMIT - used,
            "organization": ORGANIZATION_LIMIT - used,
        }
        seconds = windows["key"][1]
        assert 0 < seconds <= 60 and abs(int(headers["X-RateLimit-Reset"]) - time.time() - seconds) <= 2

    unknown = await client.get("/v1/itsm/tickets", headers={**tenant.headers, "X-API-KEY": "not-a-key"})
    assert unknown.status_code == 401
    assert unknown.headers["RateLimit-Policy"] == '"key";q=10;w=60'  # no organization to count against


async def test_health_metrics_and_docs_are_never_limited(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    while (await list_tickets(client, tenant)).status_code != 429:
        pass
    for path in ["/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"] * 3:
        answer = await client.get(path, headers=tenant.headers)
        assert answer.status_code == 200, path
        assert "X-RateLimit-Limit" not in answer.headers and "RateLimit" not in answer.headers


async def test_requests_without_a_credential_are_not_limited(client: httpx.AsyncClient) -> None:
    statuses = {(await client.get("/v1/itsm/tickets")).status_code for _ in range(KEY_LIMIT + 5)}
    admin = {(await client.get("/v1/admin/organizations")).status_code for _ in range(KEY_LIMIT + 5)}
    assert statuses == admin == {401}


async def test_the_admin_token_has_a_window_of_its_own(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)  # three admin requests
    answers = [await client.get("/v1/admin/organizations", headers=ADMIN) for _ in range(KEY_LIMIT - 2)]
    assert [answer.status_code for answer in answers] == [200] * (KEY_LIMIT - 3) + [429]
    assert answers[0].headers["RateLimit-Policy"] == '"admin";q=10;w=60'
    assert answers[-1].json()["message"].startswith("This admin token is over its rate limit")
    assert (await list_tickets(client, tenant)).status_code == 200


async def test_an_empty_or_zero_limit_disables_it(database_url: str, tmp_path: Path, runtime: Runtime) -> None:
    settings = make_settings(database_url, tmp_path, rate_limit_per_key="", rate_limit_per_organization="0")
    async with serving(create_app(settings, runtime=runtime)) as http:
        tenant = await make_tenant(http)
        answers = [await list_tickets(http, tenant) for _ in range(3 * ORGANIZATION_LIMIT)]
    assert {answer.status_code for answer in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[-1].headers


@pytest.mark.parametrize(
    ("given", "kept"),
    [("200/10seconds", "200/10seconds"), (" 20 per second ", "20 per second"), ("", None), ("0", None)],
)
def test_limits_are_read_in_the_limits_notation(given: str, kept: str | None) -> None:
    assert Settings(rate_limit_per_key=given, rate_limit_per_organization=given).rate_limit_per_key == kept


@pytest.mark.parametrize("given", ["lots", "0/minute", "10/second;100/minute"])
def test_a_limit_that_does_not_parse_is_refused_at_start(given: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_per_key"):
        Settings(rate_limit_per_key=given)


async def test_every_v1_operation_documents_the_429_and_the_headers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["components"]["headers"]) >= {"Retry-After", "X-RateLimit-Reset", "RateLimit-Policy"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if not path.startswith("/v1/"):
                assert "429" not in responses, f"{method.upper()} {path}"
                continue
            refused = responses["429"]
            assert refused["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
            assert {"Retry-After", "X-RateLimit-Remaining", "RateLimit"} <= set(refused["headers"])
            success = [response for status, response in responses.items() if status.startswith("2")]
            assert all("X-RateLimit-Reset" in response["headers"] for response in success), f"{method} {path}"


async def test_two_apps_on_one_redis_share_the_windows(
    database_url: str, tmp_path: Path, runtime: Runtime, redis_prefix: str
) -> None:
    settings = limited_settings(database_url, tmp_path, redis_url=REDIS_URL, redis_key_prefix=redis_prefix)
    async with (
        serving(create_app(settings, runtime=runtime)) as first,
        serving(create_app(settings, runtime=runtime)) as second,
    ):
        tenant = await make_tenant(first)
        answers = [await list_tickets((first, second)[n % 2], tenant) for n in range(2 * KEY_LIMIT)]
    assert [answer.status_code for answer in answers] == [200] * KEY_LIMIT + [429] * KEY_LIMIT
    remaining = [int(answer.headers["X-RateLimit-Remaining"]) for answer in answers[:KEY_LIMIT]]
    assert remaining == list(range(KEY_LIMIT - 1, -1, -1))


async def test_an_unreachable_redis_serves_requests_unlimited(
    database_url: str, tmp_path: Path, runtime: Runtime
) -> None:
    settings = limited_settings(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    async with serving(create_app(settings, runtime=runtime)) as http:
        tenant = await make_tenant(http)
        answers = [await list_tickets(http, tenant) for _ in range(KEY_LIMIT + 2)]
    assert {answer.status_code for answer in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[-1].headers


def parse_rate_limit(header: str) -> dict[str, tuple[int, int]]:
    """{policy: (requests left, seconds until one more)} from a RateLimit header."""
    return {match["name"]: (int(match["r"]), int(match["t"])) for match in RATE_LIMIT.finditer(header)}
