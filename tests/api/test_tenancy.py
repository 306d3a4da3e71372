"""Authentication, tenant isolation and connection state on /v1 data requests."""

from __future__ import annotations

import httpx

from tests.builders import ADMIN, make_api_key, make_connection, make_organization, make_tenant


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    assert set(body) == {"type", "code", "message", "detail"}
    assert body["code"] == code
    return body


async def test_valid_key_and_connection_are_accepted(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    response = await client.get("/v1/connection", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "HEALTHY"


async def test_missing_unknown_and_revoked_keys_answer_401(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    missing = await client.get("/v1/connection", headers={"X-CONNECTION-ID": tenant.connection_id})
    assert_error(missing, 401, "UNAUTHENTICATED")
    unknown = await client.get("/v1/connection", headers={**tenant.headers, "X-API-KEY": "tb_" + "x" * 43})
    assert_error(unknown, 401, "UNAUTHENTICATED")

    keys = await client.get("/v1/admin/organizations", headers=ADMIN)
    assert keys.status_code == 200
    second_key = await make_api_key(client, tenant.organization_id)
    listing = await client.post(
        f"/v1/admin/organizations/{tenant.organization_id}/api-keys",
        json={"name": "to-revoke"},
        headers=ADMIN,
    )
    revoked_key, revoked_id = listing.json()["api_key"], listing.json()["id"]
    assert (await client.delete(f"/v1/admin/api-keys/{revoked_id}", headers=ADMIN)).status_code == 200
    revoked = await client.get("/v1/connection", headers={**tenant.headers, "X-API-KEY": revoked_key})
    assert_error(revoked, 401, "UNAUTHENTICATED")
    still_valid = await client.get("/v1/connection", headers={**tenant.headers, "X-API-KEY": second_key})
    assert still_valid.status_code == 200


async def test_other_organizations_connection_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient,
) -> None:
    acme = await make_tenant(client, "Acme")
    globex = await make_tenant(client, "Globex")
    foreign = await client.get(
        "/v1/connection", headers={"X-API-KEY": acme.api_key, "X-CONNECTION-ID": globex.connection_id}
    )
    missing = await client.get(
        "/v1/connection",
        headers={"X-API-KEY": acme.api_key, "X-CONNECTION-ID": "00000000-0000-4000-8000-000000000000"},
    )
    assert_error(foreign, 404, "NOT_FOUND")
    assert foreign.json() == missing.json()


async def test_paused_and_deleted_connections_answer_409(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(client)
    for state in ("PAUSED", "DELETED"):
        patched = await client.patch(
            f"/v1/admin/connections/{tenant.connection_id}", json={"state": state}, headers=ADMIN
        )
        assert patched.status_code == 200, patched.text
        body = assert_error(await client.get("/v1/connection", headers=tenant.headers), 409, "CONFLICT")
        assert state.lower() in str(body["message"])


async def test_connection_header_must_be_present_and_a_uuid(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    key = await make_api_key(client, org)
    await make_connection(client, org)
    body = assert_error(await client.get("/v1/connection", headers={"X-API-KEY": key}), 422, "INVALID_REQUEST")
    assert body["detail"] == [{"loc": ["header", "X-CONNECTION-ID"], "msg": "Field required", "type": "missing"}]
    malformed = await client.get("/v1/connection", headers={"X-API-KEY": key, "X-CONNECTION-ID": "nope"})
    assert_error(malformed, 422, "INVALID_REQUEST")
