"""Incident semantics: numbers, priority, state rules and data policies, journal fields, metadata."""

from __future__ import annotations

import httpx

DATA_POLICY_CLOSE = "Data Policy Exception: \n\tThe following fields are mandatory: Resolution code, Resolution notes\n"


async def _incident(client: httpx.AsyncClient, **fields: object) -> dict[str, str]:
    response = await client.post("/api/now/table/incident", json={"short_description": "Slow", **fields})
    assert response.status_code == 201, response.text
    result: dict[str, str] = response.json()["result"]
    return result


async def test_numbers_defaults_and_correlation(client: httpx.AsyncClient) -> None:
    created = await _incident(client, correlation_id="tb-123", correlation_display="ticketbridge")

    assert created["number"] == "INC0010006"
    assert (created["state"], created["impact"], created["urgency"], created["priority"]) == ("1", "3", "3", "5")
    assert created["active"] == "true" and created["sys_mod_count"] == "0"
    assert (created["correlation_id"], created["correlation_display"]) == ("tb-123", "ticketbridge")
    found = await client.get("/api/now/table/incident", params={"sysparm_query": "correlation_id=tb-123"})
    assert [r["number"] for r in found.json()["result"]] == ["INC0010006"]


async def test_priority_is_computed_and_not_writable(client: httpx.AsyncClient) -> None:
    created = await _incident(client, impact="1", urgency="3", priority="5")
    path = f"/api/now/table/incident/{created['sys_id']}"

    updated = (await client.patch(path, json={"urgency": "1", "priority": "4"})).json()["result"]

    assert created["priority"] == "3"
    assert updated["priority"] == "1"


async def test_resolving_needs_close_code_and_notes(client: httpx.AsyncClient) -> None:
    created = await _incident(client)
    path = f"/api/now/table/incident/{created['sys_id']}"

    refused = await client.patch(path, json={"state": "6", "close_code": "Solution provided"})
    unchanged = (await client.get(path)).json()["result"]
    resolved = await client.patch(path, json={"state": "6", "close_code": "Solution provided", "close_notes": "Fixed"})
    closed = await client.patch(path, json={"state": "7"})

    assert refused.status_code == 403
    assert refused.json() == {
        "error": {
            "message": "Operation Failed",
            "detail": "Data Policy Exception: \n\tThe following fields are mandatory: Resolution notes\n",
        },
        "status": "failure",
    }
    assert unchanged["state"] == "1" and unchanged["sys_mod_count"] == "0"
    result = resolved.json()["result"]
    assert result["state"] == result["incident_state"] == "6"
    assert result["resolved_at"] and result["resolved_by"]["value"]
    assert result["active"] == "true"
    assert closed.json()["result"]["active"] == "false" and closed.json()["result"]["closed_at"]


async def test_create_closed_without_close_info_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/now/table/incident", json={"short_description": "x", "state": "7"})

    assert response.status_code == 403
    assert response.json()["error"]["detail"] == DATA_POLICY_CLOSE


async def test_on_hold_needs_a_reason(client: httpx.AsyncClient) -> None:
    created = await _incident(client)
    path = f"/api/now/table/incident/{created['sys_id']}"

    refused = await client.patch(path, json={"state": "3"})
    held = await client.patch(path, json={"state": "3", "hold_reason": "1"})
    resumed = await client.patch(path, json={"state": "2"})

    assert refused.status_code == 403 and "On hold reason" in refused.json()["error"]["detail"]
    assert held.json()["result"]["hold_reason"] == "1"
    assert resumed.json()["result"]["hold_reason"] == ""


async def test_journal_fields_append_and_read_back_as_servicenow_does(client: httpx.AsyncClient) -> None:
    created = await _incident(client, work_notes="first note")
    path = f"/api/now/table/incident/{created['sys_id']}"
    await client.patch(path, json={"work_notes": "second note", "comments": "to the caller"})

    plain = (await client.get(path, params={"sysparm_fields": "work_notes,comments"})).json()["result"]
    shown = (await client.get(path, params={"sysparm_fields": "work_notes", "sysparm_display_value": "true"})).json()
    entries = await client.get(
        "/api/now/table/sys_journal_field",
        params={
            "sysparm_query": f"element_id={created['sys_id']}^element=work_notes^ORDERBYDESCsys_created_on",
            "sysparm_fields": "value,element,name,sys_created_by",
        },
    )

    assert plain == {"work_notes": "", "comments": ""}
    notes = shown["result"]["work_notes"]
    assert notes.index("second note") < notes.index("first note")
    assert "- System Administrator (Work notes)\n" in notes
    values = [e["value"] for e in entries.json()["result"]]
    assert sorted(values) == ["first note", "second note"]
    assert entries.json()["result"][0] | {"value": ""} == {
        "value": "",
        "element": "work_notes",
        "name": "incident",
        "sys_created_by": "admin",
    }


async def test_updates_stamp_and_bump(itil: httpx.AsyncClient) -> None:
    created = await _incident(itil, parent_incident="")
    path = f"/api/now/table/incident/{created['sys_id']}"

    first = (await itil.patch(path, json={"description": "a"})).json()["result"]
    second = (await itil.patch(path, json={"description": "a"})).json()["result"]

    assert (first["sys_mod_count"], second["sys_mod_count"]) == ("1", "2")
    assert second["sys_updated_by"] == "beth.anglin" and created["sys_created_by"] == "beth.anglin"


async def test_parent_incident_reference(client: httpx.AsyncClient) -> None:
    parent = await _incident(client)
    child = await _incident(client, parent_incident=parent["sys_id"])

    shown = await client.get(
        f"/api/now/table/incident/{child['sys_id']}",
        params={"sysparm_fields": "parent_incident", "sysparm_display_value": "true"},
    )

    assert shown.json()["result"]["parent_incident"]["display_value"] == parent["number"]


async def test_dictionary_and_choices_describe_incident(client: httpx.AsyncClient) -> None:
    column = await client.get(
        "/api/now/table/sys_dictionary", params={"sysparm_query": "name=incident^element=correlation_id"}
    )
    missing = await client.get(
        "/api/now/table/sys_dictionary", params={"sysparm_query": "name=incident^element=u_made_up"}
    )
    categories = await client.get(
        "/api/now/table/sys_choice",
        params={"sysparm_query": "name=incident^element=category^ORDERBYsequence", "sysparm_fields": "value,label"},
    )
    codes = await client.get(
        "/api/now/table/sys_choice",
        params={"sysparm_query": "name=incident^element=close_code", "sysparm_fields": "value"},
    )

    assert column.json()["result"][0]["column_label"] == "Correlation ID"
    assert column.json()["result"][0]["internal_type"] == "string"
    assert missing.json() == {"result": []}
    assert categories.json()["result"][0] == {"value": "inquiry", "label": "Inquiry / Help"}
    assert {"value": "Solution provided"} in codes.json()["result"]
