"""Probes, OpenAPI and CORS."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.state import Runtime


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}


async def test_readyz_answers_503_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path)
    runtime = Runtime.build(settings)
    try:
        app = create_app(settings, runtime=runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "NOT_MIGRATED"
    finally:
        await runtime.close()


async def test_openapi_is_3_1_with_the_seed_names(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["schemas"]["ErrorResponse"]["required"] == ["type", "code", "message", "detail"]
    assert set(spec["components"]["securitySchemes"]) >= {"API-Key", "Connection-ID"}
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_cors_preflight_allows_the_api_headers(settings: Settings, runtime: Runtime) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        preflight = await http.options(
            "/v1/connection",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-api-key,x-connection-id,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"x-api-key", "x-connection-id", "content-type"} <= set(allowed.replace(" ", "").split(","))
        other = await http.options(
            "/v1/connection",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_parse_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETBRIDGE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
