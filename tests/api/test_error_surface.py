"""What the edge tells a caller, and what it keeps for the log: a 500 says nothing of its cause and
logs it whole (type, message, traceback, request id; never a credential); a 401 names the credential
to send (WWW-Authenticate); a 405 names the methods the path answers (Allow)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from tests.api.test_errors import assert_error_body
from tests.builders import ADMIN
from tests.test_observability import captured_logs, json_lines
from ticketbridge.app import create_app
from ticketbridge.config import LogFormat, Settings
from ticketbridge.state import Runtime

SQL = "UPDATE tickets SET name = ? WHERE id = ?"
PARAM = "bound-parameter-value"
SECRET_HEADERS = {"X-API-KEY": "sk-header-secret", "Authorization": "Bearer token-header-secret"}
API_KEY_CHALLENGE = 'ApiKey realm="ticketbridge", header="X-API-KEY"'
ADMIN_CHALLENGE = 'Bearer realm="ticketbridge-admin"'


@pytest.fixture
async def exploding(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with a route that fails the way a store bug would: a database error
    carrying its statement and bound parameters."""
    app: FastAPI = create_app(settings, runtime=runtime)

    async def explode() -> None:
        raise OperationalError(SQL, ("new name", PARAM), Exception("database is locked"))

    app.add_api_route("/boom", explode)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_an_unhandled_error_is_a_bare_500_and_a_json_log_line_with_its_traceback(
    settings: Settings, exploding: httpx.AsyncClient
) -> None:
    with captured_logs(settings, LogFormat.JSON) as stream:
        response = await exploding.get("/boom", headers=SECRET_HEADERS)
    body = assert_error_body(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "An unexpected error occurred." and body["detail"] == []
    assert SQL not in response.text and PARAM not in response.text and "locked" not in response.text

    [line] = json_lines(stream, "http.unhandled_error")
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["method"], line["path"], line["level"]) == ("GET", "/boom", "error")
    [exception] = line["exception"]
    assert exception["exc_type"] == "OperationalError"
    assert "database is locked" in exception["exc_value"] and SQL in exception["exc_value"]
    assert exception["frames"][-1]["name"] == "explode"
    [request] = json_lines(stream, "http.request")
    assert request["status"] == 500 and request["request_id"] == line["request_id"]
    for secret in ("sk-header-secret", "token-header-secret"):
        assert secret not in stream.getvalue()


async def test_an_unhandled_error_is_logged_with_its_traceback_in_console_format(
    settings: Settings, exploding: httpx.AsyncClient
) -> None:
    with captured_logs(settings, LogFormat.CONSOLE) as stream:
        response = await exploding.get("/boom", headers=SECRET_HEADERS)
    assert response.status_code == 500
    text = stream.getvalue()
    assert "http.unhandled_error" in text and f"request_id={response.headers['x-request-id']}" in text
    assert "Traceback (most recent call last)" in text and "in explode" in text
    assert "sqlalchemy.exc.OperationalError: (builtins.Exception) database is locked" in text
    for secret in ("sk-header-secret", "token-header-secret"):
        assert secret not in text


async def test_a_401_on_a_data_endpoint_asks_for_the_api_key(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"X-API-KEY": "not-a-key"}):
        response = await client.get("/v1/jobs", headers=headers)
        assert_error_body(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == API_KEY_CHALLENGE


async def test_a_401_on_the_admin_api_asks_for_the_bearer_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-API-KEY": "a data key is not an admin token"}):
        response = await client.get("/v1/admin/organizations", headers=headers)
        assert_error_body(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == ADMIN_CHALLENGE


async def test_a_disabled_admin_api_still_names_its_scheme(settings: Settings) -> None:
    disabled = settings.model_copy(update={"admin_token": None})
    runtime = Runtime.build(disabled)
    try:
        app = create_app(disabled, runtime=runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/v1/admin/organizations", headers=ADMIN)
    finally:
        await runtime.close()
    body = assert_error_body(response, 401, "UNAUTHENTICATED")
    assert "disabled" in str(body["message"]) and response.headers["www-authenticate"] == ADMIN_CHALLENGE


async def test_a_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # GET and POST /v1/admin/organizations are two routes; Allow names both.
    both = await client.put("/v1/admin/organizations", headers=ADMIN)
    assert_error_body(both, 405, "METHOD_NOT_ALLOWED")
    assert both.headers["allow"] == "GET, POST"
    only = await client.get("/v1/itsm/tickets/bulk/update")
    assert_error_body(only, 405, "METHOD_NOT_ALLOWED")
    assert only.headers["allow"] == "POST"
