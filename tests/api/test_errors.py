"""The error contract: every non-2xx answer is ErrorResponse JSON, and every response has a request id."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.builders import ADMIN
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.state import Runtime


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body: dict[str, object] = response.json()
    assert set(body) == {"type", "code", "message", "detail"}
    assert body["code"] == code
    assert isinstance(body["detail"], list)
    return body


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/v1/nowhere"), 404, "NOT_FOUND")


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.put("/v1/admin/organizations", headers=ADMIN), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_a_422_that_says_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/admin/organizations",
        content=b'{"name": ',
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert_error_body(response, 422, "MALFORMED_JSON")


async def test_validation_errors_list_each_problem_with_its_location(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/admin/organizations", json={"name": "", "extra": 1}, headers=ADMIN)
    body = assert_error_body(response, 422, "VALIDATION_ERROR")
    locations = sorted(tuple(problem["loc"]) for problem in body["detail"])  # type: ignore[union-attr,index]
    assert locations == [("body", "extra"), ("body", "name")]


async def test_oversized_body_is_a_413(settings: Settings, runtime: Runtime) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as small:
        declared = await small.post("/v1/admin/organizations", json={"name": "x" * 5000}, headers=ADMIN)
        assert_error_body(declared, 413, "PAYLOAD_TOO_LARGE")

        async def chunks():  # no Content-Length: the limit applies while the body streams in
            for _ in range(10):
                yield b"x" * 1024

        streamed = await small.post("/v1/admin/organizations", content=chunks(), headers=ADMIN)
        assert_error_body(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_unexpected_exception_is_a_json_500_without_internals(
    settings: Settings, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = create_app(settings, runtime=runtime)

    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/boom", explode)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/boom")
    body = assert_error_body(response, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.text
    assert body["message"] == "An unexpected error occurred."


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] not in ("", "bad id with spaces")
    assert len(generated.headers["x-request-id"]) == 32


async def test_admin_api_requires_the_admin_token(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/v1/admin/organizations"), 401, "UNAUTHENTICATED")
    wrong = await client.get("/v1/admin/organizations", headers={"Authorization": "Bearer nope"})
    assert_error_body(wrong, 401, "UNAUTHENTICATED")
