from __future__ import annotations

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API, adf, create_issue, status_of

pytestmark = pytest.mark.anyio


async def available(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    response = await client.get(f"{API}/issue/{key}/transitions")
    assert response.status_code == 200
    return {t["id"]: t["to"]["name"] for t in response.json()["transitions"]}


async def test_transitions_offered_depend_on_the_current_status(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    assert await available(client, key) == {"11": "In Progress"}
    await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}})
    assert await available(client, key) == {"21": "In Review", "51": "To Do"}


async def test_reaching_done_takes_every_hop_and_done_can_reopen(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    for transition_id in ("11", "21", "31"):
        response = await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": transition_id}})
        assert response.status_code == 204
    assert await status_of(client, key) == "Done"
    issue = (await client.get(f"{API}/issue/{key}")).json()
    assert issue["fields"]["resolution"]["name"] == "Done"
    await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": 41}})
    assert await status_of(client, key) == "To Do"


async def test_a_transition_not_available_from_the_status_fails_as_in_jira(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    response = await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "31"}})

    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": ["Transition id '31' is not valid for this issue."],
        "errors": {},
    }
    assert await status_of(client, key) == "To Do"


async def test_a_non_numeric_transition_id_is_refused(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    response = await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "Done"}})

    assert response.status_code == 400
    assert response.json()["errorMessages"] == ["'transition' identifier must be an integer"]


async def test_transition_with_a_comment_and_an_unknown_transition_filter(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    response = await client.post(
        f"{API}/issue/{key}/transitions",
        json={"transition": {"id": "11"}, "update": {"comment": [{"add": {"body": adf("Starting")}}]}},
    )
    filtered = await client.get(f"{API}/issue/{key}/transitions", params={"transitionId": "31"})

    assert response.status_code == 204
    assert (await client.get(f"{API}/issue/{key}/comment")).json()["total"] == 1
    assert filtered.json()["transitions"] == []


async def test_each_project_has_its_own_workflow(client: httpx.AsyncClient) -> None:
    key = await create_issue(client, project="OPS")

    await client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}})

    assert await available(client, key) == {"21": "Done"}


async def test_transition_payload_shape(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    transition = (await client.get(f"{API}/issue/{key}/transitions")).json()["transitions"][0]

    assert transition["isLooped"] is False
    assert transition["to"]["statusCategory"]["key"] == "indeterminate"
    assert transition["to"]["statusCategory"]["id"] == 4
