"""OAuth 2.0 (3LO): /authorize, /oauth/token, accessible-resources, rotation, expiry, revocation, and the
gateway's token and scope checks, all over HTTP as a client meets them (redirects followed by hand)."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from ticketbridge.sandboxes.jira import (
    DEMO_ACCOUNT_ID,
    DEMO_API_TOKEN,
    DEMO_CLOUD_ID,
    DEMO_EMAIL,
    DEMO_OAUTH_CLIENT_ID,
    DEMO_OAUTH_CLIENT_SECRET,
    DEMO_OAUTH_REDIRECT_URI,
)
from ticketbridge.sandboxes.jira.config import DEMO_CONSENT_ACCOUNT_ID
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.scopes import SPEC_PATH, operation_scopes

DAY = 24 * 3600
SPEC = Path(__file__).parent / "spec" / "jira-platform-v3.json"
ALL_WORK = "read:jira-work write:jira-work read:jira-user offline_access"
GATEWAY = f"/ex/jira/{DEMO_CLOUD_ID}/rest/api/3"
SECOND_CLOUD_ID = "7c0e3b52-2f4d-4d61-9b1e-5a8c2d9e0f11"
NEW_ISSUE = {"fields": {"project": {"key": "DEMO"}, "issuetype": {"id": "10001"}, "summary": "from an OAuth app"}}


def authorize_params(scope: str = ALL_WORK, **overrides: str) -> dict[str, str]:
    return {
        "audience": "api.atlassian.com",
        "client_id": DEMO_OAUTH_CLIENT_ID,
        "scope": scope,
        "redirect_uri": DEMO_OAUTH_REDIRECT_URI,
        "state": "state-123",
        "response_type": "code",
        "prompt": "consent",
    } | overrides


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(DEMO_OAUTH_REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorize(http: httpx.AsyncClient, scope: str = ALL_WORK) -> str:
    query = redirect_query(await http.get("/authorize", params=authorize_params(scope)))
    assert query["state"] == "state-123"
    return query["code"]


async def token_call(http: httpx.AsyncClient, **body: str) -> httpx.Response:
    credentials = {"client_id": DEMO_OAUTH_CLIENT_ID, "client_secret": DEMO_OAUTH_CLIENT_SECRET}
    return await http.post("/oauth/token", json=credentials | body)


async def exchange(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await token_call(http, grant_type="authorization_code", code=code, redirect_uri=DEMO_OAUTH_REDIRECT_URI)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def connect(http: httpx.AsyncClient, scope: str = ALL_WORK) -> dict[str, Any]:
    return await exchange(http, await authorize(http, scope))


async def refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await token_call(http, grant_type="refresh_token", refresh_token=refresh_token)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def myself(http: httpx.AsyncClient, tokens: dict[str, Any], cloud_id: str = DEMO_CLOUD_ID) -> httpx.Response:
    return await http.get(f"/ex/jira/{cloud_id}/rest/api/3/myself", headers=bearer(tokens))


async def advance(http: httpx.AsyncClient, seconds: float) -> None:
    response = await http.post("/__sandbox__/oauth/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200, response.text


async def configure(http: httpx.AsyncClient, **changes: Any) -> None:
    current = (await http.get("/__sandbox__/oauth")).json()
    response = await http.put("/__sandbox__/oauth", json=current | changes)
    assert response.status_code == 200, response.text


async def host_second_site(http: httpx.AsyncClient) -> None:
    body = {"cloud_id": SECOND_CLOUD_ID, "name": "second", "url": "https://second.atlassian.net"}
    response = await http.post("/__sandbox__/oauth/sites", json=body)
    assert response.status_code == 201, response.text


# -- the authorization-code flow -------------------------------------------------------------------


async def test_authorization_code_flow_end_to_end(anonymous: httpx.AsyncClient) -> None:
    code = await authorize(anonymous)
    tokens = await exchange(anonymous, code)

    assert set(tokens) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"].split() == ALL_WORK.split()
    resources = (await anonymous.get("/oauth/token/accessible-resources", headers=bearer(tokens))).json()
    assert resources == [
        {
            "id": DEMO_CLOUD_ID,
            "url": "http://jira.test",
            "name": "demo",
            "scopes": ["read:jira-user", "read:jira-work", "write:jira-work"],
            "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png",
        }
    ]
    me = await myself(anonymous, tokens)
    assert me.status_code == 200
    assert me.json()["accountId"] == DEMO_ACCOUNT_ID
    created = await anonymous.post(f"{GATEWAY}/issue", json=NEW_ISSUE, headers=bearer(tokens))
    assert created.status_code == 201, created.text
    v2 = await anonymous.get(
        f"/ex/jira/{DEMO_CLOUD_ID}/rest/api/2/issue/{created.json()['key']}", headers=bearer(tokens)
    )
    assert v2.status_code == 200


async def test_token_endpoint_takes_a_form_body_and_basic_client_credentials(anonymous: httpx.AsyncClient) -> None:
    code = await authorize(anonymous)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_OAUTH_REDIRECT_URI}
    response = await anonymous.post("/oauth/token", data=form, auth=(DEMO_OAUTH_CLIENT_ID, DEMO_OAUTH_CLIENT_SECRET))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


async def test_no_refresh_token_without_offline_access(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous, "read:jira-work read:jira-user")
    assert "refresh_token" not in tokens
    assert (await myself(anonymous, tokens)).status_code == 200


async def test_consent_denied_redirects_with_access_denied_and_state(anonymous: httpx.AsyncClient) -> None:
    await configure(anonymous, consent="deny")
    query = redirect_query(await anonymous.get("/authorize", params=authorize_params()))
    assert query["error"] == "access_denied"
    assert query["state"] == "state-123"
    assert "code" not in query


async def test_consent_page_lists_the_sites_and_its_form_grants_the_chosen_one(anonymous: httpx.AsyncClient) -> None:
    await host_second_site(anonymous)
    await configure(anonymous, consent="page")
    page = await anonymous.get("/authorize", params=authorize_params())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert DEMO_CLOUD_ID in page.text
    assert SECOND_CLOUD_ID in page.text
    assert "write:jira-work" in page.text

    denied = await anonymous.post("/authorize", data=authorize_params() | {"decision": "deny"})
    assert redirect_query(denied)["error"] == "access_denied"
    accepted = await anonymous.post(
        "/authorize", data=authorize_params() | {"decision": "accept", "site": SECOND_CLOUD_ID}
    )
    tokens = await exchange(anonymous, redirect_query(accepted)["code"])
    resources = (await anonymous.get("/oauth/token/accessible-resources", headers=bearer(tokens))).json()
    assert [r["id"] for r in resources] == [SECOND_CLOUD_ID]
    assert (await myself(anonymous, tokens, SECOND_CLOUD_ID)).status_code == 200
    assert (await myself(anonymous, tokens, DEMO_CLOUD_ID)).status_code == 401


async def test_authorize_refuses_what_atlassian_refuses(anonymous: httpx.AsyncClient) -> None:
    for bad in ({"redirect_uri": "https://evil.example/callback"}, {"client_id": "unknown-app"}):
        response = await anonymous.get("/authorize", params=authorize_params(**bad))
        assert response.status_code == 400
        assert "location" not in response.headers
    for overrides, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read:jira-work write:everything"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"audience": "example.com"}, "invalid_request"),
    ):
        query = redirect_query(await anonymous.get("/authorize", params=authorize_params(**overrides)))
        assert query["error"] == error, overrides
        assert query["state"] == "state-123"
    granular = redirect_query(await anonymous.get("/authorize", params=authorize_params("read:issue:jira")))
    assert "code" in granular


# -- the token endpoint ----------------------------------------------------------------------------


async def test_codes_are_single_use_and_short_lived(anonymous: httpx.AsyncClient) -> None:
    code = await authorize(anonymous)
    await exchange(anonymous, code)
    again = await token_call(
        anonymous, grant_type="authorization_code", code=code, redirect_uri=DEMO_OAUTH_REDIRECT_URI
    )
    assert again.status_code == 403
    assert again.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}

    stale = await authorize(anonymous)
    await advance(anonymous, 601)
    late = await token_call(
        anonymous, grant_type="authorization_code", code=stale, redirect_uri=DEMO_OAUTH_REDIRECT_URI
    )
    assert late.status_code == 403

    other_uri = await authorize(anonymous)
    mismatch = await token_call(
        anonymous, grant_type="authorization_code", code=other_uri, redirect_uri="http://127.0.0.1:9/other"
    )
    assert mismatch.status_code == 403
    assert mismatch.json()["error"] == "invalid_grant"


async def test_wrong_client_credentials_answer_401_access_denied(anonymous: httpx.AsyncClient) -> None:
    code = await authorize(anonymous)
    for client_id, secret in ((DEMO_OAUTH_CLIENT_ID, "wrong"), ("unknown", DEMO_OAUTH_CLIENT_SECRET)):
        response = await anonymous.post(
            "/oauth/token",
            json={"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_OAUTH_REDIRECT_URI}
            | {"client_id": client_id, "client_secret": secret},
        )
        assert response.status_code == 401
        assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert (await exchange(anonymous, code))["access_token"]
    unsupported = await token_call(anonymous, grant_type="password")
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"


async def test_refresh_rotates_and_the_old_token_works_within_the_leeway(anonymous: httpx.AsyncClient) -> None:
    first = await connect(anonymous)
    second = (await refresh(anonymous, first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600

    await advance(anonymous, 599)
    within = await refresh(anonymous, first["refresh_token"])
    assert within.status_code == 200
    assert within.json()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert (await myself(anonymous, second)).status_code == 200


async def test_reuse_within_the_leeway_can_answer_the_same_pair(anonymous: httpx.AsyncClient) -> None:
    await configure(anonymous, reuse_within_leeway="same")
    first = await connect(anonymous)
    second = (await refresh(anonymous, first["refresh_token"])).json()
    again = (await refresh(anonymous, first["refresh_token"])).json()
    assert (again["access_token"], again["refresh_token"]) == (second["access_token"], second["refresh_token"])


async def test_reuse_after_the_leeway_revokes_the_grant(anonymous: httpx.AsyncClient) -> None:
    first = await connect(anonymous)
    second = (await refresh(anonymous, first["refresh_token"])).json()
    await advance(anonymous, 601)

    reused = await refresh(anonymous, first["refresh_token"])
    assert reused.status_code == 403
    assert reused.json() == {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
    assert (await refresh(anonymous, second["refresh_token"])).status_code == 403
    gone = await myself(anonymous, second)
    assert gone.status_code == 401
    assert gone.json() == {"code": 401, "message": "Unauthorized"}
    assert (await anonymous.get("/oauth/token/accessible-resources", headers=bearer(second))).status_code == 401
    assert (await myself(anonymous, await connect(anonymous))).status_code == 200, "consenting again works"


async def test_a_refresh_can_answer_without_refresh_token(anonymous: httpx.AsyncClient) -> None:
    await configure(anonymous, omit_refresh_token=True)
    first = await connect(anonymous)
    answer = (await refresh(anonymous, first["refresh_token"])).json()
    assert "refresh_token" not in answer
    await advance(anonymous, 3600)
    assert (await refresh(anonymous, first["refresh_token"])).status_code == 200


async def test_idle_expiry_after_90_days_unused(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    await advance(anonymous, 89 * DAY)
    tokens = (await refresh(anonymous, tokens["refresh_token"])).json()
    await advance(anonymous, 90 * DAY)
    expired = await refresh(anonymous, tokens["refresh_token"])
    assert expired.status_code == 403
    assert expired.json()["error"] == "invalid_grant"


async def test_absolute_expiry_365_days_after_consent(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    for _ in range(4):
        await advance(anonymous, 80 * DAY)
        response = await refresh(anonymous, tokens["refresh_token"])
        assert response.status_code == 200
        tokens = response.json()
    await advance(anonymous, 50 * DAY)
    assert (await refresh(anonymous, tokens["refresh_token"])).status_code == 403


async def test_access_tokens_expire_after_an_hour_and_on_demand(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    await advance(anonymous, 3599)
    assert (await myself(anonymous, tokens)).status_code == 200
    await advance(anonymous, 1)
    assert (await myself(anonymous, tokens)).status_code == 401

    fresh = (await refresh(anonymous, tokens["refresh_token"])).json()
    assert (await myself(anonymous, fresh)).status_code == 200
    expired = await anonymous.post("/__sandbox__/oauth/expire-access-tokens")
    assert expired.json() == {"expired": 1}
    assert (await myself(anonymous, fresh)).status_code == 401
    newest = (await refresh(anonymous, fresh["refresh_token"])).json()
    assert (await myself(anonymous, newest)).status_code == 200


async def test_revoke_uninstalls_the_app_for_every_grant(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    revoked = await anonymous.post("/__sandbox__/oauth/revoke", json={"client_id": DEMO_OAUTH_CLIENT_ID})
    assert revoked.json() == {"revoked": 1}
    assert (await myself(anonymous, tokens)).status_code == 401
    assert (await refresh(anonymous, tokens["refresh_token"])).status_code == 403
    assert (await anonymous.get("/oauth/token/accessible-resources", headers=bearer(tokens))).status_code == 401
    unknown = await anonymous.post("/__sandbox__/oauth/revoke", json={"client_id": "nobody"})
    assert unknown.status_code == 400


# -- sites and the gateway -------------------------------------------------------------------------


async def test_accessible_resources_with_two_sites(anonymous: httpx.AsyncClient) -> None:
    await host_second_site(anonymous)
    first = await connect(anonymous)
    await configure(anonymous, consent_site=SECOND_CLOUD_ID)
    second = await connect(anonymous)

    resources = (await anonymous.get("/oauth/token/accessible-resources", headers=bearer(second))).json()
    assert {r["id"]: r["url"] for r in resources} == {
        DEMO_CLOUD_ID: "http://jira.test",
        SECOND_CLOUD_ID: "https://second.atlassian.net",
    }
    # One grant per app and account: the earlier token reaches the site added later too.
    assert (await myself(anonymous, first, SECOND_CLOUD_ID)).status_code == 200
    seeded = await anonymous.post(
        f"/__sandbox__/sites/{SECOND_CLOUD_ID}/seed", json={"issues": [{"project": "DEMO", "summary": "only here"}]}
    )
    key = seeded.json()["first_key"]
    on_second = await anonymous.get(f"/ex/jira/{SECOND_CLOUD_ID}/rest/api/3/issue/{key}", headers=bearer(second))
    assert on_second.json()["fields"]["summary"] == "only here"
    on_first = await anonymous.get(f"{GATEWAY}/issue/{key}", headers=bearer(second))
    assert on_first.status_code == 404, "each site has its own data"
    count = await anonymous.get(f"/__sandbox__/sites/{SECOND_CLOUD_ID}/issues/count", params={"project": "DEMO"})
    assert count.json()["count"] == 4


async def test_gateway_refuses_an_ungranted_cloud_id(anonymous: httpx.AsyncClient) -> None:
    await host_second_site(anonymous)
    tokens = await connect(anonymous)
    refused = await myself(anonymous, tokens, SECOND_CLOUD_ID)
    assert refused.status_code == 401
    assert refused.json() == {"code": 401, "message": "Unauthorized"}
    assert (await myself(anonymous, tokens, "00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_gateway_enforces_the_operation_scopes(anonymous: httpx.AsyncClient) -> None:
    read_only = await connect(anonymous, "read:jira-work")
    assert (await anonymous.get(f"{GATEWAY}/issue/DEMO-1", headers=bearer(read_only))).status_code == 200
    await anonymous.delete("/__sandbox__/calls")

    created = await anonymous.post(f"{GATEWAY}/issue", json=NEW_ISSUE, headers=bearer(read_only))
    assert created.status_code == 401
    assert created.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    no_user_scope = await myself(anonymous, read_only)
    assert no_user_scope.status_code == 401
    assert "createIssue" not in (await anonymous.get("/__sandbox__/calls")).json(), "refused before Jira"
    count = await anonymous.get("/__sandbox__/issues/count", params={"project": "DEMO"})
    assert count.json()["count"] == 3

    granular = await connect(anonymous, "read:issue-details:jira read:field.default-value:jira read:field.option:jira")
    search = await anonymous.post(
        f"{GATEWAY}/search/jql",
        json={"jql": "project = DEMO"},
        headers=bearer(granular),
    )
    assert search.status_code == 401, "one alternative's scopes must all be held"


async def test_site_url_refuses_3lo_tokens_and_keeps_api_tokens(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    refused = await anonymous.get("/rest/api/3/myself", headers=bearer(tokens))
    assert refused.status_code == 401
    assert refused.json()["errorMessages"] == ["Client must be authenticated to access this resource."]
    basic = await anonymous.get("/rest/api/3/myself", auth=(DEMO_EMAIL, DEMO_API_TOKEN))
    assert basic.status_code == 200
    scoped_token_style = await anonymous.get(f"{GATEWAY}/myself", auth=(DEMO_EMAIL, DEMO_API_TOKEN))
    assert scoped_token_style.status_code == 200


async def test_token_calls_are_counted(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    tokens = (await refresh(anonymous, tokens["refresh_token"])).json()
    await refresh(anonymous, tokens["refresh_token"])
    await anonymous.get("/oauth/token/accessible-resources", headers=bearer(tokens))
    calls = (await anonymous.get("/__sandbox__/calls")).json()
    assert calls["oauth.authorize"] == 1
    assert calls["oauth.token.authorization_code"] == 1
    assert calls["oauth.token.refresh_token"] == 2
    assert calls["oauth.accessibleResources"] == 1


# -- control ---------------------------------------------------------------------------------------


async def test_oauth_settings_round_trip_and_reject_bad_bodies(anonymous: httpx.AsyncClient) -> None:
    settings = (await anonymous.get("/__sandbox__/oauth")).json()
    assert settings["leeway_seconds"] == 600
    assert settings["access_token_seconds"] == 3600
    assert settings["idle_expiry_seconds"] == 90 * DAY
    assert settings["absolute_expiry_seconds"] == 365 * DAY
    assert settings["consent"] == "auto"
    assert settings["apps"] == [
        {
            "client_id": DEMO_OAUTH_CLIENT_ID,
            "client_secret": DEMO_OAUTH_CLIENT_SECRET,
            "name": "Demo integration",
            "redirect_uris": [DEMO_OAUTH_REDIRECT_URI],
        }
    ]
    another = {"client_id": "second-app", "client_secret": "s2", "redirect_uris": ["https://app.example/cb"]}
    await configure(anonymous, apps=[*settings["apps"], another], leeway_seconds=0)
    query = await anonymous.get(
        "/authorize", params=authorize_params(client_id="second-app", redirect_uri="https://app.example/cb")
    )
    assert query.status_code == 302
    bad = await anonymous.put("/__sandbox__/oauth", json=settings | {"consent": "sometimes"})
    assert bad.status_code == 400
    assert "errorMessages" in bad.json()
    negative = await anonymous.post("/__sandbox__/oauth/clock", json={"advance_seconds": -1})
    assert negative.status_code == 400


async def test_reset_forgets_grants_and_tokens(anonymous: httpx.AsyncClient) -> None:
    tokens = await connect(anonymous)
    await anonymous.post("/__sandbox__/reset")
    assert (await myself(anonymous, tokens)).status_code == 401
    assert (await refresh(anonymous, tokens["refresh_token"])).status_code == 403


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def test_every_served_operation_has_documented_scopes(app: FastAPI) -> None:
    scopes = operation_scopes()
    served = [r for r in _routes(list(app.routes)) if isinstance(r, JiraRoute)]
    assert served
    missing = [r.operation_id for r in served if not scopes.by_operation.get(r.operation_id or "")]
    assert missing == []
    assert scopes.allows("createIssue", {"write:jira-work"})
    assert not scopes.allows("createIssue", {"read:jira-work"})


def test_vendored_spec_is_the_contract_tests_copy() -> None:
    vendored = hashlib.sha256(gzip.decompress(SPEC_PATH.read_bytes())).hexdigest()
    assert vendored == hashlib.sha256(SPEC.read_bytes()).hexdigest()


def test_automatic_consent_signs_in_the_demo_admin() -> None:
    assert DEMO_CONSENT_ACCOUNT_ID == DEMO_ACCOUNT_ID
