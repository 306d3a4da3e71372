"""Trust at the edge, admin side: what a connection may be set to, where its credentials may go, and
the audit log of every change."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests import documented_statuses
from tests.api.test_admin import dump_database
from tests.builders import ADMIN, make_connection, make_organization
from tests.conftest import ADMIN_TOKEN
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.crypto import token_fingerprint
from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest
from ticketbridge.services.vendor_sites import PRODUCTION_SITES, SitePolicy
from ticketbridge.state import Runtime

CANARY = "CANARY-7f3e-secret-token"
NEW_SITE = "https://acme.atlassian.net"


@pytest.fixture
async def strict_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The production defaults (https only, but for loopback) and a Jira host allow-list."""
    strict = settings.model_copy(
        update={"allow_http_vendors": False, "vendor_hosts": {Vendor.JIRA: ["*.atlassian.net"]}}
    )
    app = create_app(strict, runtime=dataclasses.replace(runtime, settings=strict))
    hooks = {"response": [documented_statuses.recorder(app)]}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", event_hooks=hooks
    ) as http:
        yield http


def connection_body(organization_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "vendor": "JIRA",
        "base_url": NEW_SITE,
        "credentials": {"email": "bot@acme.example", "api_token": CANARY},
        **overrides,
    }


async def get_connection(client: httpx.AsyncClient, connection_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/admin/connections/{connection_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def audit(client: httpx.AsyncClient, connection_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/admin/connections/{connection_id}/audit", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- base URL rules (the policy itself, no database) ---


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://acme.atlassian.net", "https://acme.atlassian.net"),
        ("HTTPS://ACME.Atlassian.NET/", "https://acme.atlassian.net"),
        ("https://jira.example.com:8443/jira/", "https://jira.example.com:8443/jira"),
        ("https://10.1.2.3", "https://10.1.2.3"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("http://127.0.0.1:8100", "http://127.0.0.1:8100"),
        ("http://127.9.9.9", "http://127.9.9.9"),
        ("http://[::1]:8200", "http://[::1]:8200"),
        ("http://localhost:8100", "http://localhost:8100"),
        ("http://jira.localhost", "http://jira.localhost"),
    ],
)
def test_acceptable_base_urls_are_stored_normalized(given: str, stored: str) -> None:
    assert PRODUCTION_SITES.check(Vendor.JIRA, given) == stored


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("\x8f", "printable ASCII"),
        ("0" * 40, "absolute URL"),
        ("", "printable ASCII"),
        ("acme.atlassian.net", "absolute URL"),
        ("//acme.atlassian.net", "absolute URL"),
        ("ftp://acme.example", "absolute URL"),
        ("javascript:alert(1)", "absolute URL"),
        ("https://", "absolute URL"),
        ("https:///jira", "absolute URL"),
        ("https://bot:pw@acme.atlassian.net", "user information"),
        ("https://acme.atlassian.net@evil.example", "user information"),
        ("https://acme.atlassian.net?x=1", "query or a fragment"),
        ("https://acme.atlassian.net?", "query or a fragment"),
        ("https://acme.atlassian.net/#top", "query or a fragment"),
        ("https://acme.atlassian.net\\@evil.example", "backslashes"),
        ("https://acme atlassian.net", "printable ASCII"),
        ("https://acme.atlassian.net\x00", "printable ASCII"),
        ("https://acmé.example", "printable ASCII"),
        ("https://acme.example:0", "port"),
        ("https://acme.example:65536", "port"),
        ("https://acme.example:", "port"),
        ("https://acme.example:http", "port"),
        ("https://-acme.example", "valid host"),
        ("https://acme..example", "valid host"),
        ("https://acme.example.", "valid host"),
        ("https://acme_jira.example", "valid host"),
        ("https://127.1", "valid host"),
        ("https://2130706433", "valid host"),
        ("https://[::1", "valid host"),
        ("https://%61cme.example", "valid host"),
        ("http://jira.test", "plain http"),
        ("http://10.0.0.1", "plain http"),
        ("http://0.0.0.0:8100", "plain http"),
        ("http://localhost.evil.example", "plain http"),
        ("https://acme.example/" + "x" * 500, "at most 500"),
    ],
)
def test_unacceptable_base_urls_are_refused_naming_the_field(given: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        PRODUCTION_SITES.check(Vendor.JIRA, given)
    assert problem in raised.value.details[0]["msg"]
    assert raised.value.details[0]["loc"] == ["body", "base_url"]
    assert raised.value.message == f"base_url is not an acceptable vendor URL: {raised.value.details[0]['msg']}."


def test_plain_http_anywhere_only_when_the_operator_opts_in() -> None:
    assert SitePolicy(allow_http=True).check(Vendor.JIRA, "http://jira.test/") == "http://jira.test"
    with pytest.raises(InvalidRequest):
        SitePolicy(allow_http=True).check(Vendor.JIRA, "http://bot:pw@jira.test")


def test_a_host_allow_list_binds_its_vendor_only() -> None:
    policy = SitePolicy(hosts={Vendor.JIRA: ["*.atlassian.net", "jira.corp.example"]})
    assert policy.check(Vendor.JIRA, "https://acme.atlassian.net") == "https://acme.atlassian.net"
    assert policy.check(Vendor.JIRA, "https://jira.corp.example") == "https://jira.corp.example"
    for refused in (
        "https://atlassian.net",
        "https://evilatlassian.net",
        "https://acme.atlassian.net.evil.example",
        "https://sub.jira.corp.example",
        "http://127.0.0.1:8100",
    ):
        with pytest.raises(InvalidRequest, match="not among those allowed for JIRA"):
            policy.check(Vendor.JIRA, refused)
    assert policy.check(Vendor.REZOLVE, "https://api.rezolve.example") == "https://api.rezolve.example"


def test_settings_read_the_allow_list_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_HOSTS", '{"JIRA": ["*.Atlassian.net"], "REZOLVE": []}')
    monkeypatch.setenv("TICKETBRIDGE_ALLOW_HTTP_VENDORS", "true")
    settings = Settings()
    assert settings.vendor_hosts == {Vendor.JIRA: ["*.atlassian.net"], Vendor.REZOLVE: []}
    assert settings.allow_http_vendors is True
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_HOSTS", '{"JIRA": ["https://x.example"]}')
    with pytest.raises(ValueError, match="not a host name"):
        Settings()


# --- base URL rules through the API ---


async def test_a_bad_base_url_is_422_and_nothing_is_stored(strict_client: httpx.AsyncClient) -> None:
    org = await make_organization(strict_client)
    for base_url in (
        "\x8f",
        "000000",
        "http://jira.test",
        "https://jira.evil.example",
        "https://u:p@acme.atlassian.net",
    ):
        response = await strict_client.post(
            "/v1/admin/connections", json=connection_body(org, base_url=base_url), headers=ADMIN
        )
        assert response.status_code == 422, (base_url, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "base_url"]
    listed = await strict_client.get("/v1/admin/connections", params={"organization_id": org}, headers=ADMIN)
    assert listed.json()["items"] == []


async def test_loopback_sandboxes_pass_the_production_rules(strict_client: httpx.AsyncClient) -> None:
    org = await make_organization(strict_client)
    response = await strict_client.post(
        "/v1/admin/connections",
        json=connection_body(
            org, vendor="REZOLVE", base_url="http://127.0.0.1:8200/", credentials=rezolve_credentials()
        ),
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    assert response.json()["base_url"] == "http://127.0.0.1:8200"


def rezolve_credentials(**overrides: Any) -> dict[str, Any]:
    return {"tenant_id": "t1", "realm": "acme", "client_id": "bridge", "client_secret": CANARY, **overrides}


async def test_rezolves_token_url_follows_the_base_url_rules(strict_client: httpx.AsyncClient) -> None:
    org = await make_organization(strict_client)
    response = await strict_client.post(
        "/v1/admin/connections",
        json=connection_body(
            org,
            vendor="REZOLVE",
            base_url="https://api.rezolve.example",
            credentials=rezolve_credentials(auth_url="http://sso.evil.example"),
        ),
        headers=ADMIN,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "credentials", "auth_url"]
    assert CANARY not in response.text


# --- other admin input ---


@pytest.mark.parametrize(
    "field",
    ["state", "base_url", "credentials", "status_mapping", "priority_mapping", "refresh_interval_secs", "timeout_secs"],
)
async def test_patch_refuses_null_naming_the_field(client: httpx.AsyncClient, field: str) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org)
    response = await client.patch(f"/v1/admin/connections/{created['id']}", json={field: None}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"loc": ["body", field], "msg": "cannot be null", "type": "null_not_allowed"}]
    assert await get_connection(client, created["id"]) == created | {"oauth": None}  # no OAuth grant


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("refresh_interval_secs", 2**63),
        ("refresh_interval_secs", -(2**63)),
        ("refresh_interval_secs", 59),
        ("refresh_interval_secs", 2_592_001),
        ("refresh_interval_secs", 1e400),
        ("timeout_secs", 2**63),
        ("timeout_secs", 9),
        ("timeout_secs", 86_401),
        ("timeout_secs", True),
        ("timeout_secs", 10.5),
    ],
)
async def test_integers_out_of_range_are_422_on_create_and_patch(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    org = await make_organization(client)
    raw = json.dumps(connection_body(org, **{field: value}))  # 1e400 is written as Infinity
    created = await client.post(
        "/v1/admin/connections", content=raw, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert created.status_code == 422, created.text
    connection = await make_connection(client, org)
    patched = await client.patch(
        f"/v1/admin/connections/{connection['id']}",
        content=json.dumps({field: value}),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["detail"][0]["loc"][:2] == ["body", field]


async def test_the_documented_bounds_are_accepted(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org, refresh_interval_secs=60, timeout_secs=86_400)
    patched = await client.patch(
        f"/v1/admin/connections/{created['id']}",
        json={"refresh_interval_secs": 2_592_000, "timeout_secs": 10},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["refresh_interval_secs"], patched.json()["timeout_secs"]) == (2_592_000, 10)


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "Acme\\u0000"}',
        '{"name": "Acme\\ud800"}',
        '{"name": "\\udfff"}',
    ],
)
async def test_organization_names_refuse_nul_and_lone_surrogates(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post(
        "/v1/admin/organizations", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


@pytest.mark.parametrize(
    ("fragment", "loc"),
    [
        ('"status_mapping": {"Done\\u0000": "CLOSED"}', ["body", "status_mapping"]),
        ('"status_mapping": {"\\ud800": "CLOSED"}', ["body", "status_mapping"]),
        ('"priority_mapping": {"High": "HIGH\\ud800"}', ["body", "priority_mapping"]),
        ('"credentials": {"email": "bot@acme.example", "api_token": "tok\\u0000en"}', ["body", "credentials"]),
        ('"credentials": {"oauth_token": "tok\\udc8fen"}', ["body", "credentials"]),
        ('"credentials": {"oauth_token": "t", "extra": {"deep": ["\\u0000"]}}', ["body", "credentials"]),
        ('"base_url": "https://acme.atlassian.net/\\u0000"', ["body", "base_url"]),
    ],
)
async def test_connection_strings_refuse_nul_and_lone_surrogates(
    client: httpx.AsyncClient, fragment: str, loc: list[str]
) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org)
    response = await client.patch(
        f"/v1/admin/connections/{created['id']}",
        content="{" + fragment + "}",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == loc
    assert "tok" not in response.text
    assert await get_connection(client, created["id"]) == created | {"oauth": None}  # no OAuth grant


# --- credentials follow their site ---


async def test_a_new_base_url_without_credentials_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org)
    response = await client.patch(
        f"/v1/admin/connections/{created['id']}",
        json={"base_url": "https://evil.example", "refresh_interval_secs": 3600},
        headers=ADMIN,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "credentials"]
    assert await get_connection(client, created["id"]) == created | {"oauth": None}  # no OAuth grant
    assert [change["action"] for change in await audit(client, created["id"])] == ["verified", "created"]


async def test_a_new_base_url_with_credentials_is_taken(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org)
    response = await client.patch(
        f"/v1/admin/connections/{created['id']}",
        json={"base_url": NEW_SITE + "/", "credentials": {"oauth_token": CANARY}},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    assert response.json()["base_url"] == NEW_SITE
    # The same site again (as stored, or as written before normalizing) is no change: no credentials needed.
    again = await client.patch(
        f"/v1/admin/connections/{created['id']}", json={"base_url": NEW_SITE + "/"}, headers=ADMIN
    )
    assert again.status_code == 200, again.text
    changes = await audit(client, created["id"])
    assert [(change["action"], change["fields"]) for change in changes] == [
        ("updated", ["base_url", "credentials"]),  # the new site does not answer: PENDING, not verified
        ("verified", ["state"]),
        ("created", ["base_url", "credentials", "vendor"]),
    ]


# --- the audit log ---


async def test_every_change_is_audited_by_field_name_never_by_value(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    org = await make_organization(client)
    created = await client.post("/v1/admin/connections", json=connection_body(org), headers=ADMIN)
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    steps: list[tuple[dict[str, Any], str, list[str]]] = [
        (
            {"refresh_interval_secs": 3600, "status_mapping": {"Done": "CLOSED"}},
            "updated",
            ["refresh_interval_secs", "status_mapping"],
        ),
        (
            {"credentials": {"email": "bot@acme.example", "api_token": CANARY + "-2"}},
            "credentials_changed",
            ["credentials"],
        ),
        ({"state": "PAUSED"}, "paused", ["state"]),
        ({"state": "ACTIVE", "timeout_secs": 60}, "resumed", ["state", "timeout_secs"]),
        ({"state": "DELETED"}, "deleted", ["state"]),
    ]
    for index, (body, _action, _fields) in enumerate(steps):
        response = await client.patch(
            f"/v1/admin/connections/{connection_id}", json=body, headers={**ADMIN, "X-Request-ID": f"req-{index}"}
        )
        assert response.status_code == 200, response.text
    # Nothing changed: nothing to audit.
    await client.patch(f"/v1/admin/connections/{connection_id}", json={"timeout_secs": 60}, headers=ADMIN)

    changes = await audit(client, connection_id)
    assert [(change["action"], change["fields"], change["request_id"]) for change in reversed(changes)] == [
        ("created", ["base_url", "credentials", "vendor"], created.headers["X-Request-ID"]),
        *[(action, fields, f"req-{index}") for index, (_body, action, fields) in enumerate(steps)],
    ]
    assert {change["actor"] for change in changes} == {f"admin-token:{token_fingerprint(ADMIN_TOKEN)}"}
    assert {change["connection_id"] for change in changes} == {connection_id}

    listed = await client.get(f"/v1/admin/connections/{connection_id}/audit", params={"limit": 2}, headers=ADMIN)
    assert [change["action"] for change in listed.json()["items"]] == ["deleted", "resumed"]
    async with runtime.engine.connect() as connection:
        audit_rows = repr((await connection.execute(text("SELECT * FROM connection_audit"))).all())
    assert CANARY not in audit_rows and CANARY not in json.dumps(changes)
    assert ADMIN_TOKEN not in audit_rows
    assert CANARY not in await dump_database(runtime)


async def test_the_audit_of_a_request_carries_its_request_id(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    created = await client.post("/v1/admin/connections", json=connection_body(org), headers=ADMIN)
    longest = "r" * 128  # the longest X-Request-ID the middleware keeps
    patched = await client.patch(
        f"/v1/admin/connections/{created.json()['id']}",
        json={"state": "PAUSED"},
        headers={**ADMIN, "X-Request-ID": longest},
    )
    assert patched.status_code == 200, patched.text
    changes = await audit(client, created.json()["id"])
    assert [change["request_id"] for change in changes] == [longest, created.headers["X-Request-ID"]]


async def test_the_audit_endpoint_is_admin_only_and_404s_for_unknown_connections(client: httpx.AsyncClient) -> None:
    org = await make_organization(client)
    created = await make_connection(client, org)
    path = f"/v1/admin/connections/{created['id']}/audit"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers={"Authorization": "Bearer wrong"})).status_code == 401
    missing = await client.get("/v1/admin/connections/00000000-0000-4000-8000-000000000000/audit", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert (await client.get(path, params={"limit": 0}, headers=ADMIN)).status_code == 422
    assert (await client.get(path, params={"limit": 2**63}, headers=ADMIN)).status_code == 422
