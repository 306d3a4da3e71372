"""The Table API's surface: verbs, versions, rendering, paging, errors."""

from __future__ import annotations

import httpx

from ticketbridge.sandboxes.servicenow import demo_sys_id

from .conftest import BASE_URL

ADMIN_ID = demo_sys_id("sys_user", "admin")
NETWORK = demo_sys_id("sys_user_group", "Network")


async def _create(client: httpx.AsyncClient, **fields: object) -> dict[str, object]:
    response = await client.post("/api/now/table/incident", json={"short_description": "Printer on fire", **fields})
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()["result"]
    return result


async def test_create_answers_201_with_location_and_string_values(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/now/table/incident", json={"short_description": "Disk full", "impact": 2, "urgency": 1}
    )

    assert response.status_code == 201
    result = response.json()["result"]
    assert response.headers["location"] == f"{BASE_URL}/api/now/table/incident/{result['sys_id']}"
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert all(isinstance(v, str | dict) for v in result.values())
    assert result["impact"] == "2" and result["priority"] == "2"
    assert result["opened_by"] == {"link": f"{BASE_URL}/api/now/table/sys_user/{ADMIN_ID}", "value": ADMIN_ID}
    assert len(result["sys_created_on"]) == 19 and result["sys_created_on"][10] == " "


async def test_get_patch_put_delete(client: httpx.AsyncClient) -> None:
    created = await _create(client)
    path = f"/api/now/table/incident/{created['sys_id']}"

    fetched = (await client.get(path)).json()["result"]
    patched = await client.patch(path, json={"short_description": "Patched", "assignment_group": NETWORK})
    put = await client.put(path, json={"description": "Put leaves the rest alone"})
    deleted = await client.delete(path)
    gone = await client.get(path)

    assert fetched["number"] == created["number"]
    assert patched.status_code == 200 and patched.json()["result"]["sys_mod_count"] == "1"
    assert put.json()["result"]["short_description"] == "Patched"
    assert put.json()["result"]["sys_mod_count"] == "2"
    assert deleted.status_code == 204 and deleted.content == b""
    assert gone.status_code == 404
    assert gone.json() == {
        "error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"},
        "status": "failure",
    }


async def test_v1_answers_404_on_an_empty_list_and_v2_an_empty_result(client: httpx.AsyncClient) -> None:
    params = {"sysparm_query": "number=INC9999999"}

    v1 = await client.get("/api/now/v1/table/incident", params=params)
    v2 = await client.get("/api/now/v2/table/incident", params=params)
    latest = await client.get("/api/now/table/incident", params=params)

    assert v1.status_code == 404
    assert v1.json()["error"] == {
        "message": "No Record found",
        "detail": "Records matching query not found. Check query parameter or offset parameter",
    }
    assert v2.status_code == latest.status_code == 200
    assert v2.json() == latest.json() == {"result": []}


async def test_display_values_and_reference_links(client: httpx.AsyncClient) -> None:
    params = {"sysparm_query": "number=INC0010001", "sysparm_fields": "state,assignment_group,priority"}

    plain = (await client.get("/api/now/table/incident", params=params)).json()["result"][0]
    shown = (await client.get("/api/now/table/incident", params=params | {"sysparm_display_value": "true"})).json()
    both = await client.get(
        "/api/now/table/incident",
        params=params | {"sysparm_display_value": "all", "sysparm_exclude_reference_link": "true"},
    )

    group = demo_sys_id("sys_user_group", "Service Desk")
    assert plain == {
        "state": "2",
        "assignment_group": {"link": f"{BASE_URL}/api/now/table/sys_user_group/{group}", "value": group},
        "priority": "1",
    }
    assert shown["result"][0]["state"] == "In Progress"
    assert shown["result"][0]["assignment_group"]["display_value"] == "Service Desk"
    assert both.json()["result"][0] == {
        "state": {"display_value": "In Progress", "value": "2"},
        "assignment_group": {"display_value": "Service Desk", "value": group},
        "priority": {"display_value": "1 - Critical", "value": "1"},
    }


async def test_fields_dot_walk_and_ignore_unknown_names(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/incident",
        params={"sysparm_query": "number=INC0010002", "sysparm_fields": "number,assignment_group.name,nope"},
    )

    assert response.json()["result"] == [{"number": "INC0010002", "assignment_group.name": "Network"}]


async def test_paging_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/now/table/incident", params={"sysparm_limit": "2", "sysparm_offset": "2", "sysparm_fields": "number"}
    )

    assert response.headers["x-total-count"] == "5"
    assert [r["number"] for r in response.json()["result"]] == ["INC0010003", "INC0010004"]
    links = {rel: url for url, rel in (part.split(";rel=") for part in response.headers["link"].split(","))}
    assert set(links) == {'"first"', '"prev"', '"next"', '"last"'}
    assert "sysparm_offset=4" in links['"next"'] and "sysparm_offset=0" in links['"prev"']
    assert "sysparm_offset=4" in links['"last"']
    suppressed = await client.get("/api/now/table/incident", params={"sysparm_suppress_pagination_header": "true"})
    assert "link" not in suppressed.headers and suppressed.headers["x-total-count"] == "5"


async def test_input_display_value_and_reference_by_display_value(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/now/table/incident?sysparm_input_display_value=true",
        json={"short_description": "By labels", "state": "In Progress", "assignment_group": "Network"},
    )

    result = response.json()["result"]
    assert result["state"] == "2"
    assert result["assignment_group"]["value"] == NETWORK


async def test_name_value_pairs_filter_the_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/now/table/incident", params={"state": "New", "sysparm_fields": "number"})

    assert response.json()["result"] == [{"number": "INC0010002"}]


async def test_errors_are_servicenow_shaped(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    invalid_table = await client.get("/api/now/table/u_nothing")
    bad_json = await client.post(
        "/api/now/table/incident", content=b"{nope", headers={"content-type": "application/json"}
    )
    unknown_path = await client.get("/api/now/nothing/here")
    no_auth = await anonymous.get("/api/now/table/incident")
    wrong = await anonymous.get("/api/now/table/incident", auth=("admin", "wrong"))

    assert invalid_table.status_code == 400
    assert invalid_table.json() == {
        "error": {"message": "Invalid table u_nothing", "detail": None},
        "status": "failure",
    }
    assert bad_json.status_code == 400 and bad_json.json()["error"]["message"] == "Exception while reading request"
    assert unknown_path.status_code == 400
    for response in (no_auth, wrong):
        assert response.status_code == 401
        assert response.json() == {
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure",
        }


async def test_itil_cannot_delete_incidents_or_write_groups(itil: httpx.AsyncClient) -> None:
    incidents = (await itil.get("/api/now/table/incident", params={"sysparm_limit": "1"})).json()["result"]

    deleted = await itil.delete(f"/api/now/table/incident/{incidents[0]['sys_id']}")
    group = await itil.post("/api/now/table/sys_user_group", json={"name": "Rogue"})

    assert deleted.status_code == 403
    assert deleted.json()["error"] == {
        "message": "Operation Failed",
        "detail": "ACL Exception Delete Failed due to security constraints",
    }
    assert group.status_code == 403 and "Insert Failed" in group.json()["error"]["detail"]


async def test_requester_sees_only_their_incidents(requester: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    theirs = await requester.get("/api/now/table/incident", params={"sysparm_fields": "number"})
    other = (await client.get("/api/now/table/incident", params={"sysparm_query": "number=INC0010003"})).json()
    hidden = await requester.get(f"/api/now/table/incident/{other['result'][0]['sys_id']}")
    patched = await requester.patch(f"/api/now/table/incident/{other['result'][0]['sys_id']}", json={"urgency": 1})

    assert [r["number"] for r in theirs.json()["result"]] == ["INC0010001", "INC0010002", "INC0010005"]
    assert theirs.headers["x-total-count"] == "3"
    assert hidden.status_code == 404 and patched.status_code == 404


async def test_directory_tables(client: httpx.AsyncClient) -> None:
    members = await client.get(
        "/api/now/table/sys_user_grmember",
        params={"sysparm_query": "group.name=Network", "sysparm_display_value": "true", "sysparm_fields": "user"},
    )
    users = await client.get("/api/now/table/sys_user", params={"sysparm_query": "user_name=beth.anglin"})

    assert sorted(m["user"]["display_value"] for m in members.json()["result"]) == ["Beth Anglin", "David Loo"]
    assert users.json()["result"][0]["email"] == "beth.anglin@example.com"
