"""Input at the door: each input that once answered 500 (fuzzing found them) now answers a 4xx
ErrorResponse naming what is wrong, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api.test_errors import assert_error_body
from tests.api.test_rezolve import rezolve_tenant
from tests.api.test_tickets import BUG
from tests.builders import ADMIN, Tenant, make_organization, make_tenant

TICKETS = "/v1/itsm/tickets"
LISTS = ["/v1/itsm/tickets", "/v1/itsm/projects", "/v1/itsm/users"]


def ticket(**fields: Any) -> dict[str, Any]:
    return {"name": "Door check", "project_vendor_id": "DEMO", "type_vendor_id": BUG, **fields}


def forged(parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


async def send(client: httpx.AsyncClient, method: str, path: str, tenant: Tenant, body: Any) -> httpx.Response:
    """`body` as JSON with every non-ASCII character escaped: httpx's `json=` cannot encode a lone surrogate."""
    headers = {**tenant.headers, "Content-Type": "application/json"}
    return await client.request(method, path, content=json.dumps(body).encode(), headers=headers)


def locations(body: dict[str, Any]) -> list[list[Any]]:
    return [problem["loc"] for problem in body["detail"]]


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "NUL \x00 inside"),
        ("name", "lone \ud800 surrogate"),
        ("description", "trailing surrogate \udfff"),
        ("identifier", "id-\ud83d"),
        ("identifier", "id-\x00"),
        ("project_vendor_id", "DEMO\x00"),
        ("status", "\x00"),
    ],
)
async def test_nul_and_lone_surrogates_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, field: str, value: str
) -> None:
    response = await send(client, "POST", TICKETS, tenant, ticket(**{field: value}))
    body = assert_error_body(response, 422, "VALIDATION_ERROR")
    assert ["body", field] in locations(body)


async def test_a_bad_item_fails_an_async_bulk_at_the_door_not_after_retries(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    tickets = [ticket(identifier="fine-1"), ticket(identifier="bad-\ud800"), ticket(name="x\x00")]
    response = await send(client, "POST", f"{TICKETS}/bulk", tenant, {"tickets": tickets})
    body = assert_error_body(response, 422, "VALIDATION_ERROR")
    assert sorted(locations(body)) == [["body", "tickets", 1, "identifier"], ["body", "tickets", 2, "name"]]
    jobs = await client.get("/v1/jobs", headers=tenant.headers)
    assert jobs.json()["items"] == []


async def test_patch_and_bulk_update_check_text_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ticket_id = str(uuid.uuid4())
    patched = await send(client, "PATCH", f"{TICKETS}/{ticket_id}", tenant, {"name": "\ud800"})
    assert ["body", "name"] in locations(assert_error_body(patched, 422, "VALIDATION_ERROR"))
    bulk = {"ticket_ids": [ticket_id], "updates": {"description": "a\x00b"}}
    updated = await send(client, "POST", f"{TICKETS}/bulk/update", tenant, bulk)
    assert ["body", "updates", "description"] in locations(assert_error_body(updated, 422, "VALIDATION_ERROR"))


@pytest.mark.parametrize(("field", "limit"), [("name", 255), ("identifier", 255), ("description", 32_767)])
async def test_lengths_are_bounded(client: httpx.AsyncClient, tenant: Tenant, field: str, limit: int) -> None:
    response = await client.post(TICKETS, json=ticket(**{field: "x" * (limit + 1)}), headers=tenant.headers)
    assert ["body", field] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


@pytest.mark.parametrize("path", LISTS)
async def test_nul_in_a_query_filter_is_refused(client: httpx.AsyncClient, tenant: Tenant, path: str) -> None:
    response = await client.get(path, params={"name": "a\x00b"}, headers=tenant.headers)
    assert ["query", "name"] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


async def test_nul_in_an_identifier_path_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"{TICKETS}/by-identifier/a%00b", headers=tenant.headers)
    assert ["path", "identifier"] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


@pytest.mark.parametrize("path", [*LISTS, "/v1/itsm/passthrough/projects"])
@pytest.mark.parametrize("offset", [2**63, 2**31])
async def test_offsets_are_bounded(client: httpx.AsyncClient, tenant: Tenant, path: str, offset: int) -> None:
    response = await client.get(path, params={"offset": offset}, headers=tenant.headers)
    assert ["query", "offset"] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


@pytest.mark.parametrize(
    "moment",
    [
        "0.5",
        "1e20",
        "1700000000",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "2024-01-01T00:00:00",
        "10000-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize(("path", "name"), [(LISTS[0], "updated_since"), (LISTS[1], "updatedSince")])
async def test_date_time_parameters_take_only_bounded_date_times(
    client: httpx.AsyncClient, tenant: Tenant, path: str, name: str, moment: str
) -> None:
    response = await client.get(path, params={name: moment}, headers=tenant.headers)
    assert ["query", name] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


async def test_a_date_time_parameter_still_takes_rfc_3339(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for moment in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123+02:00", "0001-01-01T00:00:00Z"):
        response = await client.get(TICKETS, params={"updated_since": moment}, headers=tenant.headers)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "cursor",
    [
        forged(["tickets", "a", "2024-01-01T00:00:00+00:00", 5]),
        forged(["tickets", "a", "2024-01-01T00:00:00+00:00", None]),
        forged(["tickets", "a", "9999-12-31T23:59:59-23:59", str(uuid.uuid4())]),
        forged(["tickets", "a", 0.5, str(uuid.uuid4())]),
        forged({"kind": "tickets"}),
        forged(["projects", "a", "2024-01-01T00:00:00+00:00", str(uuid.uuid4())]),
        "not-base64-json",
        "A",
    ],
)
async def test_forged_list_cursors_are_a_clear_422(client: httpx.AsyncClient, tenant: Tenant, cursor: str) -> None:
    response = await client.get(TICKETS, params={"cursor": cursor}, headers=tenant.headers)
    body = assert_error_body(response, 422, "INVALID_REQUEST")
    assert locations(body) == [["query", "cursor"]]
    assert "tickets list" in body["detail"][0]["msg"]


@pytest.mark.parametrize("cursor", [forged(["2024-01-01T00:00:00+00:00", 7]), forged([1, 2]), forged("x"), "²", "%00"])
async def test_forged_job_cursors_are_a_422(client: httpx.AsyncClient, tenant: Tenant, cursor: str) -> None:
    response = await client.get("/v1/jobs", params={"cursor": cursor}, headers=tenant.headers)
    body = assert_error_body(response, 422, response.json()["code"])
    assert ["query", "cursor"] in locations(body)


async def test_a_non_ascii_search_cursor_is_refused_on_rezolve(client: httpx.AsyncClient) -> None:
    tenant = await rezolve_tenant(client)
    for cursor in ("²", "٣", "1\x00"):
        response = await client.get(
            "/v1/itsm/passthrough/tickets/search", params={"jql": "vpn", "cursor": cursor}, headers=tenant.headers
        )
        assert ["query", "cursor"] in locations(assert_error_body(response, 422, "VALIDATION_ERROR"))


@pytest.mark.parametrize("key", ["DEMO%01", "%2E%2E", "DEMO%3Fx", "DEMO%20"])
async def test_control_characters_in_a_passthrough_key_are_a_404(
    client: httpx.AsyncClient, tenant: Tenant, key: str
) -> None:
    response = await client.get(f"/v1/itsm/passthrough/projects/{key}/issue-types", headers=tenant.headers)
    body = assert_error_body(response, 404, "NOT_FOUND")
    assert "Jira project key" in str(body["message"])


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "\xff\xfe"}',
        b"\xc3\x28",
        b'{"name": "' + b"\xed\xa0\x80" + b'"}',  # a surrogate encoded as UTF-8 (CESU): no valid UTF-8
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"name": "deep", "identifier": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}).encode(),
        b'{"name": ' + b"[" * 70 + b"]" * 70 + b"}",
    ],
    ids=["invalid-utf8-string", "invalid-utf8", "cesu-surrogate", "deep-100000", "deep-20", "deep-70"],
)
async def test_undecodable_or_deep_bodies_are_malformed_json(
    client: httpx.AsyncClient, tenant: Tenant, content: bytes, request: pytest.FixtureRequest
) -> None:
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = await client.post(TICKETS, content=content, headers=headers)
    if "deep-20" in request.node.name:  # within the bound: an ordinary validation error
        assert_error_body(response, 422, "VALIDATION_ERROR")
    elif "cesu" in request.node.name:  # Python decodes it to a lone surrogate: refused as text
        assert response.status_code == 422, response.text
    else:
        assert_error_body(response, 422, "MALFORMED_JSON")


async def test_the_schema_documents_the_bounds(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    create = spec["components"]["schemas"]["ITSMTicketCreateRequestModel"]["properties"]
    assert create["name"]["maxLength"] == 255
    assert create["description"]["anyOf"][0]["maxLength"] == 32_767
    assert create["identifier"]["anyOf"][0]["maxLength"] == 255
    assert create["project_vendor_id"]["anyOf"][0]["maxLength"] == 255
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/v1/itsm/tickets"]["get"]["parameters"]}
    assert parameters["offset"]["maximum"] == 2**31 - 1
    assert parameters["updated_since"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    assert parameters["name"]["anyOf"][0]["maxLength"] == 255


async def test_a_repeated_query_parameter_is_refused(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)

    answer = await client.get("/v1/itsm/users?offset=1&offset=0", headers=tenant.headers)

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize("settings", [False], indirect=True, ids=["no-oauth-app"])
async def test_jira_oauth_on_a_deployment_without_an_oauth_app_is_a_404_not_a_5xx(client: httpx.AsyncClient) -> None:
    organization_id = await make_organization(client)

    answer = await client.post(
        f"/v1/admin/organizations/{organization_id}/connections/jira/authorize", json={}, headers=ADMIN
    )

    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "NOT_CONFIGURED" and "TICKETBRIDGE_JIRA_OAUTH_CLIENT_ID" in answer.json()["message"]
