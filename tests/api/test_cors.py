"""CORS: `ticketbridge demo` answers browser apps on local development origins; production allows
only TICKETBRIDGE_CORS_ORIGINS, empty by default."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.demo import demo_settings

REQUESTED_HEADERS = "x-api-key,x-connection-id,content-type,idempotency-key,if-match"


def preflight(origin: str, method: str = "PATCH") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": REQUESTED_HEADERS,
    }


async def options(app: FastAPI, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        return await client.options(path, headers=headers)


def demo_settings_of(settings: Settings) -> Settings:
    return demo_settings(
        settings,
        admin_token="t",
        jira_url="http://127.0.0.1:8100",
        redirect_uri="http://127.0.0.1:8000/v1/oauth/jira/callback",
    )


def demo_app() -> FastAPI:
    return create_app(demo_settings_of(Settings(worker_enabled=False)))


@pytest.mark.parametrize("origin", ["http://localhost:8080", "http://127.0.0.1:5173", "http://localhost"])
async def test_the_demo_answers_a_preflight_from_a_local_dev_server(origin: str) -> None:
    response = await options(demo_app(), "/v1/itsm/tickets/00000000-0000-4000-8000-000000000001", preflight(origin))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(REQUESTED_HEADERS.split(",")) <= allowed
    assert "PATCH" in response.headers["access-control-allow-methods"]


async def test_the_demo_exposes_the_headers_a_browser_client_reads() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=demo_app()), base_url="http://127.0.0.1:8000") as c:
        response = await c.get("/healthz", headers={"Origin": "http://localhost:8080"})
    assert response.headers["access-control-allow-origin"] == "http://localhost:8080"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "x-request-id", "retry-after", "idempotent-replayed"} <= exposed


@pytest.mark.parametrize(
    "origin", ["https://localhost:8080", "http://localhost.evil.example", "http://evil.example", "null"]
)
async def test_the_demo_refuses_other_origins(origin: str) -> None:
    response = await options(demo_app(), "/v1/itsm/tickets", preflight(origin, "POST"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_production_defaults_refuse_the_same_preflight() -> None:
    response = await options(
        create_app(Settings(worker_enabled=False)), "/v1/itsm/tickets", preflight("http://localhost:8080")
    )
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


async def test_production_allows_exactly_the_configured_origins() -> None:
    app = create_app(Settings(worker_enabled=False, cors_origins=["https://console.example"]))
    allowed = await options(app, "/v1/itsm/tickets", preflight("https://console.example", "POST"))
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://console.example"
    local = await options(app, "/v1/itsm/tickets", preflight("http://localhost:8080", "POST"))
    assert local.status_code == 400


def test_the_demo_keeps_an_explicit_origin_regex() -> None:
    settings = demo_settings_of(Settings(cors_origin_regex=r"https://.*\.corp\.example"))
    assert settings.cors_origin_regex == r"https://.*\.corp\.example"
