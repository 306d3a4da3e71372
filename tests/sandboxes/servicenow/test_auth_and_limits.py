"""OAuth, token expiry, rate-limit rules, ACL-filtered short pages."""

from __future__ import annotations

import httpx

from ticketbridge.sandboxes.servicenow import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REQUESTER_USERNAME,
    RateLimitConfig,
    RateLimitRule,
    ServiceNowSandboxConfig,
)
from ticketbridge.sandboxes.servicenow.config import DEFAULT_RULE_ID

PASSWORD_GRANT = {
    "grant_type": "password",
    "client_id": DEMO_CLIENT_ID,
    "client_secret": DEMO_CLIENT_SECRET,
    "username": DEMO_USERNAME,
    "password": DEMO_PASSWORD,
}


async def test_password_and_refresh_grants(anonymous: httpx.AsyncClient) -> None:
    issued = await anonymous.post("/oauth_token.do", data=PASSWORD_GRANT)
    token = issued.json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    listed = await anonymous.get("/api/now/table/incident", params={"sysparm_limit": 1}, headers=bearer)
    refreshed = await anonymous.post(
        "/oauth_token.do",
        data={
            "grant_type": "refresh_token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": token["refresh_token"],
        },
    )

    assert issued.status_code == 200
    assert set(token) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1799
    assert listed.status_code == 200
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != token["access_token"]


async def test_bad_credentials_and_disabled_client_credentials(anonymous: httpx.AsyncClient) -> None:
    wrong = await anonymous.post("/oauth_token.do", data=PASSWORD_GRANT | {"password": "nope"})
    client_credentials = await anonymous.post(
        "/oauth_token.do",
        data={"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
    )

    assert wrong.status_code == 401
    assert wrong.json() == {"error_description": "access_denied", "error": "server_error"}
    assert client_credentials.status_code == 400


async def test_expired_access_tokens_answer_401(anonymous: httpx.AsyncClient) -> None:
    token = (await anonymous.post("/oauth_token.do", data=PASSWORD_GRANT)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    expired = await anonymous.post("/__sandbox__/tokens/expire")
    refused = await anonymous.get("/api/now/table/incident", headers=bearer)

    assert expired.json() == {"expired": 1}
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "User Not Authenticated"


async def test_the_suite_meets_the_default_rule_as_an_instance_sets_it(
    sandbox_config: ServiceNowSandboxConfig, client: httpx.AsyncClient
) -> None:
    assert sandbox_config.rate_limits == RateLimitConfig()  # the fixture's: the sandbox's own, on
    answer = await client.get("/api/now/table/incident", params={"sysparm_limit": 1})
    batch = await client.post("/api/now/v1/batch", json={"batch_request_id": "1", "rest_requests": []})

    assert answer.status_code == 200
    assert (answer.headers["x-ratelimit-limit"], answer.headers["x-ratelimit-rule"]) == ("5000", DEFAULT_RULE_ID)
    assert batch.status_code == 200 and "x-ratelimit-limit" not in batch.headers  # a Table API rule


async def test_rate_limit_rules(client: httpx.AsyncClient) -> None:
    rule = RateLimitRule(sys_id="a" * 32, name="incidents", table="incident", requests_per_hour=2)
    await client.put("/__sandbox__/rate-limits", json=RateLimitConfig(rules=[rule]).model_dump())

    first = await client.get("/api/now/table/incident", params={"sysparm_limit": 1})
    await client.get("/api/now/table/incident", params={"sysparm_limit": 1})
    throttled = await client.get("/api/now/table/incident", params={"sysparm_limit": 1})
    other_table = await client.get("/api/now/table/sys_user", params={"sysparm_limit": 1})

    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-rule"] == "a" * 32
    assert int(first.headers["x-ratelimit-reset"]) % 3600 == 0
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 3600
    assert throttled.json() == {
        "error": {
            "message": "Rate limit exceeded",
            "detail": "Rate limit of 2 requests per hour for Table API exceeded",
        },
        "status": "failure",
    }
    assert other_table.status_code == 200 and "x-ratelimit-limit" not in other_table.headers


async def test_a_single_user_rule_overrides_the_all_users_rule(client: httpx.AsyncClient) -> None:
    rules = [
        RateLimitRule(sys_id="b" * 32, requests_per_hour=1),
        RateLimitRule(sys_id="c" * 32, user_name=DEMO_USERNAME, requests_per_hour=50),
    ]
    await client.put("/__sandbox__/rate-limits", json=RateLimitConfig(rules=rules).model_dump())

    answers = [await client.get("/api/now/table/incident", params={"sysparm_limit": 1}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["x-ratelimit-rule"] == "c" * 32


async def test_acl_short_pages(client: httpx.AsyncClient, itil: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/acls", json={"hidden": {"incident": "stateIN1,2"}})
    params = {"sysparm_limit": 2, "sysparm_query": "ORDERBYnumber", "sysparm_fields": "number"}

    first = await itil.get("/api/now/table/incident", params=params)
    second = await itil.get("/api/now/table/incident", params=params | {"sysparm_offset": 2})
    admin = await client.get("/api/now/table/incident", params=params)
    hidden = (await client.get("/api/now/table/incident", params={"sysparm_query": "number=INC0010001"})).json()
    one = await itil.get(f"/api/now/table/incident/{hidden['result'][0]['sys_id']}")

    assert first.json()["result"] == [] and first.headers["x-total-count"] == "5"
    assert "next" in first.headers["link"]
    assert [r["number"] for r in second.json()["result"]] == ["INC0010003", "INC0010004"]
    assert len(admin.json()["result"]) == 2
    assert one.status_code == 404

    await client.put("/__sandbox__/acls", json={"hidden": {"incident": "stateIN1,2"}, "limit_before_acl": False})
    full = await itil.get("/api/now/table/incident", params=params)
    assert [r["number"] for r in full.json()["result"]] == ["INC0010003", "INC0010004"]
    assert full.headers["x-total-count"] == "3"


async def test_inactive_users_cannot_log_in(client: httpx.AsyncClient, requester: httpx.AsyncClient) -> None:
    users = await client.get("/api/now/table/sys_user", params={"sysparm_query": f"user_name={REQUESTER_USERNAME}"})
    await client.patch(f"/api/now/table/sys_user/{users.json()['result'][0]['sys_id']}", json={"active": False})

    refused = await requester.get("/api/now/table/incident")

    assert refused.status_code == 401
