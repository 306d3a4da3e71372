"""The seed (Rezolve's Update Ticket page), case by case, with its bodies compared exactly."""

from __future__ import annotations

import anyio
import httpx
import pytest

from ticketbridge.sandboxes.rezolve import (
    DEMO_CLIENT_ID,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    OTHER_REALM,
    OTHER_TENANT_ID,
    REQUEST_FIELDS,
)

from .support import (
    DESCRIPTION,
    QUERY,
    TICKETS,
    api_headers,
    create_request,
    fetch_token,
    get_ticket,
    patch_ticket,
)

pytestmark = pytest.mark.anyio

ETAG_MISMATCH = {
    "error": True,
    "code": "ETAG_MISMATCH",
    "message": "Ticket might have been updated. Please check changes and resubmit",
    "status": 400,
}
PERMISSION_FAILURE = {
    "error": True,
    "code": "USER_PERMISSION_FAILURE",
    "message": "You do not have the permission to update the ticket",
    "status": 401,
}


async def test_update_answers_the_seed_success_body_and_get_reflects_it(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer)

    response = await patch_ticket(
        client,
        writer,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>Updated description text.</p>"}},
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "message", "status", "etag"}
    assert body["success"] is True
    assert body["message"] == "ticket updated successfully"
    assert body["status"] == 200
    assert body["etag"] != created["etag"]
    ticket = await get_ticket(client, writer, created["objectId"])
    assert ticket["etag"] == body["etag"]
    assert ticket["data"][DESCRIPTION] == "<p>Updated description text.</p>"


async def test_update_is_a_shallow_merge_that_leaves_other_keys_alone(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer, "Keep me", **{REQUEST_FIELDS.tags: ["a"]})

    await patch_ticket(
        client,
        writer,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {REQUEST_FIELDS.tags: []}},
    )

    data = (await get_ticket(client, writer, created["objectId"]))["data"]
    assert data[REQUEST_FIELDS.tags] == []
    assert data[REQUEST_FIELDS.summary] == "Keep me"


async def test_stale_etag_gets_etag_mismatch_and_writes_nothing(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer)
    first = await patch_ticket(
        client,
        writer,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>one</p>"}},
    )
    assert first.status_code == 200

    stale = await patch_ticket(
        client,
        writer,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>two</p>"}},
    )

    assert stale.status_code == 400
    assert stale.json() == ETAG_MISMATCH
    assert (await get_ticket(client, writer, created["objectId"]))["data"][DESCRIPTION] == "<p>one</p>"


async def test_every_write_gives_a_new_etag_even_with_an_unchanged_value(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer)
    etags = [created["etag"]]
    for _ in range(3):
        response = await patch_ticket(
            client,
            writer,
            created["objectId"],
            {"etag": etags[-1], "ticketUpdate": {DESCRIPTION: "<p>same</p>"}},
        )
        etags.append(response.json()["etag"])

    assert len(set(etags)) == 4


async def test_invalid_values_fail_with_a_reason_per_field_uuid(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer)
    unknown_field = "00000000-0000-4000-8000-000000000000"

    response = await patch_ticket(
        client,
        writer,
        created["objectId"],
        {
            "etag": created["etag"],
            "ticketUpdate": {
                REQUEST_FIELDS.priority: "urgent",
                REQUEST_FIELDS.assignee: "not-a-user",
                REQUEST_FIELDS.dueDate: "next week",
                REQUEST_FIELDS.summary: "",
                REQUEST_FIELDS.tags: "vpn",
                REQUEST_FIELDS.parent: "REQ-9999",
                unknown_field: "x",
            },
        },
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": True,
        "code": "INPUT_VALIDATION_FAILURE",
        "message": "Input validation failed",
        "status": 400,
        "validationResult": {
            "reason": {
                REQUEST_FIELDS.priority: "Invalid option 'urgent'",
                REQUEST_FIELDS.assignee: "Unknown user",
                REQUEST_FIELDS.dueDate: "Invalid date",
                REQUEST_FIELDS.summary: "Field is required",
                REQUEST_FIELDS.tags: "Expected array of strings",
                REQUEST_FIELDS.parent: "Unknown ticket (REQ-9999)",
                unknown_field: "Unknown field",
            }
        },
    }
    assert (await get_ticket(client, writer, created["objectId"]))["etag"] == created["etag"]


async def test_update_without_etag_is_refused(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    created = await create_request(client, writer)

    response = await patch_ticket(client, writer, created["objectId"], {"ticketUpdate": {DESCRIPTION: "<p>x</p>"}})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INPUT_VALIDATION_FAILURE"
    assert body["validationResult"]["reason"] == {"etag": "etag is required"}


async def test_update_without_type_and_module_is_refused(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    created = await create_request(client, writer)

    response = await client.patch(
        f"{TICKETS}/{created['objectId']}/update",
        headers=writer,
        json={"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>x</p>"}},
    )

    assert response.status_code == 400
    assert set(response.json()["validationResult"]["reason"]) == {"type", "module"}


async def test_scope_without_write_role_gets_user_permission_failure(
    client: httpx.AsyncClient, writer: dict[str, str], reader: dict[str, str]
) -> None:
    created = await create_request(client, writer)

    response = await patch_ticket(
        client,
        reader,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>x</p>"}},
    )

    assert response.status_code == 401
    assert response.json() == PERMISSION_FAILURE


async def test_unknown_display_id_gets_the_seed_not_found_body(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    response = await patch_ticket(
        client, writer, "REQ-9999", {"etag": "b5f8c028-924c-4e2c-af9e-eed4aa584e99", "ticketUpdate": {}}
    )

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Ticket not found (REQ-9999)"}


async def test_internal_uuid_in_the_path_is_not_found(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    created = await create_request(client, writer)
    internal_id = created["id"]

    get = await client.get(f"{TICKETS}/{internal_id}", params=QUERY, headers=writer)
    patch = await patch_ticket(
        client, writer, internal_id, {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>x</p>"}}
    )

    for response in (get, patch):
        assert response.status_code == 404
        assert response.json() == {"error": True, "message": f"Ticket not found ({internal_id})"}


@pytest.mark.parametrize("tenant_header", [OTHER_TENANT_ID, "7b0b2c8e-0000-4000-8000-000000000000"])
async def test_tenant_header_that_disagrees_with_the_token_is_tenant_not_found(
    client: httpx.AsyncClient, writer: dict[str, str], tenant_header: str
) -> None:
    created = await create_request(client, writer)
    headers = writer | {"x-tenantid": tenant_header}

    response = await patch_ticket(
        client,
        headers,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: "<p>x</p>"}},
    )

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Tenant not found"}


async def test_two_concurrent_writers_with_one_etag_exactly_one_wins(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    created = await create_request(client, writer)
    responses: list[httpx.Response] = []

    async def write(text: str) -> None:
        body = {"etag": created["etag"], "ticketUpdate": {DESCRIPTION: text}}
        responses.append(await patch_ticket(client, writer, created["objectId"], body))

    async with anyio.create_task_group() as group:
        group.start_soon(write, "<p>first</p>")
        group.start_soon(write, "<p>second</p>")

    assert sorted(response.status_code for response in responses) == [200, 400]
    winner = next(response for response in responses if response.status_code == 200)
    loser = next(response for response in responses if response.status_code == 400)
    assert loser.json() == ETAG_MISMATCH
    assert (await get_ticket(client, writer, created["objectId"]))["etag"] == winner.json()["etag"]


async def test_updates_are_audited_in_last_updated_by_under_the_service_account(
    client: httpx.AsyncClient, writer: dict[str, str]
) -> None:
    before = await get_ticket(client, writer, "REQ-0001")
    assert before["lastUpdatedBy"]["type"] == "user"

    await patch_ticket(client, writer, "REQ-0001", {"etag": before["etag"], "ticketUpdate": {DESCRIPTION: ""}})

    after = await get_ticket(client, writer, "REQ-0001")
    assert after["lastUpdatedBy"] == {"id": DEMO_CLIENT_ID, "type": "service_account"}
    assert after["lastUpdatedBy"]["id"].startswith("sa-tenant-")
    assert after["updatedAt"] >= before["updatedAt"]
    assert after["createdBy"] == before["createdBy"]


async def test_status_follows_the_workflow(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    created = await create_request(client, writer)
    status = REQUEST_FIELDS.status

    skipped = await patch_ticket(
        client, writer, created["objectId"], {"etag": created["etag"], "ticketUpdate": {status: "resolved"}}
    )
    started = await patch_ticket(
        client,
        writer,
        created["objectId"],
        {"etag": created["etag"], "ticketUpdate": {status: "in_progress"}},
    )

    assert skipped.status_code == 400
    assert skipped.json()["validationResult"]["reason"] == {
        status: "Transition not allowed from 'submitted' to 'resolved'"
    }
    assert started.status_code == 200
    assert (await get_ticket(client, writer, created["objectId"]))["data"][status] == "in_progress"


async def test_update_of_another_tenants_ticket_is_not_found(client: httpx.AsyncClient, writer: dict[str, str]) -> None:
    acme = api_headers(
        await fetch_token(client, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_REALM),
        OTHER_TENANT_ID,
        OTHER_REALM,
    )
    demo_ticket = await get_ticket(client, writer, "REQ-0001")

    response = await patch_ticket(
        client, acme, "REQ-0001", {"etag": demo_ticket["etag"], "ticketUpdate": {DESCRIPTION: "<p>x</p>"}}
    )

    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "Ticket not found (REQ-0001)"}
