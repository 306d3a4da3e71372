"""The /__sandbox__/ control plane and the shared fault middleware."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.sandboxes.faults import FaultConfig


async def test_reset_answers_the_jira_body(client: httpx.AsyncClient) -> None:
    await client.post("/api/now/table/incident", json={"short_description": "extra"})

    reset = await client.post("/__sandbox__/reset")
    empty = await client.post("/__sandbox__/reset", json={"seed_demo": False})

    assert reset.status_code == 200 and reset.json() == {"issues": 5}
    assert empty.json() == {"issues": 0}
    assert (await client.get("/__sandbox__/calls")).json() == {}


async def test_seed_and_count(client: httpx.AsyncClient) -> None:
    seeded = await client.post(
        "/__sandbox__/seed",
        json={
            "incidents": 3,
            "users": [
                {"user_name": "ops.bot", "first_name": "Ops", "last_name": "Bot", "password": "pw", "roles": ["itil"]}
            ],
            "groups": [{"name": "Ops", "members": ["ops.bot"]}],
        },
    )
    count = await client.get(
        "/__sandbox__/tables/incident/count", params={"query": "short_descriptionSTARTSWITHGenerated"}
    )
    as_bot = await client.get(
        "/api/now/table/sys_user_grmember", params={"sysparm_query": "group.name=Ops"}, auth=("ops.bot", "pw")
    )

    assert seeded.json()["created"] == 3 and seeded.json()["first_key"] == "INC0010006"
    assert count.json() == {"count": 3}
    assert len(as_bot.json()["result"]) == 1


async def test_consistency_is_read_your_writes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/__sandbox__/consistency")).json() == {"search_lag_ms": 0}
    assert (await client.put("/__sandbox__/consistency", json={"search_lag_ms": 0})).status_code == 200
    refused = await client.put("/__sandbox__/consistency", json={"search_lag_ms": 2000})
    assert refused.status_code == 400 and "reads its own writes" in refused.json()["error"]["detail"]


async def test_injected_faults(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/faults", json=FaultConfig(error_rate=1, error_statuses=[503]).model_dump())

    failed = await client.get("/api/now/table/incident")
    injected = await client.get("/__sandbox__/faults/injected")

    assert failed.status_code == 503 and failed.json()["status"] == "failure"
    assert injected.json() == {"status_503": 1}


async def test_lost_responses_still_write(client: httpx.AsyncClient) -> None:
    await client.put("/__sandbox__/faults", json=FaultConfig(lost_response_rate=1).model_dump())

    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/api/now/table/incident", json={"short_description": "lost", "correlation_id": "m-9"})
    await client.put("/__sandbox__/faults", json=FaultConfig().model_dump())

    count = await client.get("/__sandbox__/tables/incident/count", params={"query": "correlation_id=m-9"})
    assert count.json() == {"count": 1}


async def test_calls_are_counted_by_operation(client: httpx.AsyncClient) -> None:
    await client.get("/api/now/table/incident")
    await client.post("/api/now/table/incident", json={"short_description": "x"})
    await client.get("/api/now/v1/attachment")

    assert (await client.get("/__sandbox__/calls")).json() == {
        "table.incident.GET": 1,
        "table.incident.POST": 1,
        "attachment.GET": 1,
    }


async def test_ui_edit_bumps_the_record(client: httpx.AsyncClient) -> None:
    incident = (await client.get("/api/now/table/incident", params={"sysparm_limit": 1})).json()["result"][0]

    edited = await client.post(
        f"/__sandbox__/tables/incident/{incident['sys_id']}/ui-edit",
        json={"fields": {"short_description": "edited in the UI"}, "user_name": "beth.anglin"},
    )
    row = (await client.get(f"/__sandbox__/tables/incident/{incident['sys_id']}")).json()

    assert edited.status_code == 204
    assert row["sys_updated_by"] == "beth.anglin" and row["sys_mod_count"] == "1"
