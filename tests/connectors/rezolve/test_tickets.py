"""Create, get and update round trips against the Rezolve sandbox."""

from __future__ import annotations

import pytest

from ticketbridge.connectors.errors import VendorNotFound, VendorRejected
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.sandboxes.rezolve import REQUEST_FIELDS
from ticketbridge.sandboxes.rezolve.demo import AGENT_ALEX_ID, AGENT_PRIYA_ID

from .support import Control, baseline, make_item


async def test_a_created_ticket_reads_back_with_every_field(connector: RezolveConnector) -> None:
    item = make_item(
        1,
        description="Needs **VPN** access.\n\n- laptop\n- phone",
        priority_name="High",
        assignee_vendor_id=AGENT_ALEX_ID,
        parent_vendor_id="REQ-0001",
        target_status="In Progress",
    )

    [outcome] = await connector.create_tickets([item])

    assert outcome.succeeded, outcome.error
    ticket = outcome.ticket
    assert ticket is not None
    assert (ticket.key, ticket.project_vendor_id, ticket.project_name) == ("REQ-0003", "it", "IT")
    assert (ticket.type_vendor_id, ticket.type_name) == ("16910", "Service Request")
    assert (ticket.status_name, ticket.status_category, ticket.priority_name) == (
        "In Progress",
        "indeterminate",
        "High",
    )
    assert (ticket.assignee_vendor_id, ticket.parent_vendor_id) == (AGENT_ALEX_ID, "REQ-0001")
    assert ticket.name == "Ticket 1"
    assert ticket.description == "Needs **VPN** access.\n\n- laptop\n- phone"
    assert ticket.reporter_vendor_id == "sa-tenant-demo-1"
    assert ticket.custom_fields[REQUEST_FIELDS.externalReference] == item.marker
    assert await connector.get_ticket(ticket.vendor_id) == ticket
    assert await connector.get_ticket(ticket.key) == ticket


async def test_the_description_is_stored_as_richtext_html(connector: RezolveConnector) -> None:
    [outcome] = await connector.create_tickets([make_item(1, description="Hello *there*")])
    assert outcome.ticket is not None

    page = await connector.search_tickets(f"key={outcome.ticket.key}", cursor=None, limit=1)

    assert page.items[0].description == "Hello *there*"
    raw = await connector._fetch(outcome.ticket.key)
    assert raw["data"][REQUEST_FIELDS.description] == "<p>Hello <em>there</em></p>"


async def test_a_parent_given_by_internal_id_is_stored_as_its_display_id(connector: RezolveConnector) -> None:
    parent = await connector.get_ticket("REQ-0002")

    [outcome] = await connector.create_tickets([make_item(1, parent_vendor_id=parent.vendor_id)])

    assert outcome.ticket is not None and outcome.ticket.parent_vendor_id == "REQ-0002"


async def test_an_update_changes_only_the_given_fields(connector: RezolveConnector, control: Control) -> None:
    before = await connector.get_ticket("REQ-0001")

    after = await connector.update_ticket(
        before.vendor_id,
        TicketChanges(name="VPN for Jo", priority_name="critical", assignee_vendor_id=AGENT_PRIYA_ID),
        expected=baseline(before),
    )

    assert (after.name, after.priority_name, after.assignee_vendor_id) == (
        "VPN for Jo",
        "Critical",
        AGENT_PRIYA_ID,
    )
    assert (after.description, after.labels, after.status_name) == (before.description, ("vpn",), "Submitted")
    assert after.version != before.version
    assert (await control.calls())["calls"]["updateTicket"] == 1


async def test_clearing_sends_rezolve_empty_values(connector: RezolveConnector) -> None:
    after = await connector.update_ticket(
        "REQ-0001",
        TicketChanges(cleared=frozenset({"description", "assignee_vendor_id"})),
        expected=None,
    )

    assert (after.description, after.assignee_vendor_id) == (None, None)
    raw = await connector._fetch("REQ-0001")
    assert (raw["data"][REQUEST_FIELDS.description], raw["data"][REQUEST_FIELDS.assignee]) == ("", None)


async def test_an_update_that_changes_nothing_writes_nothing(connector: RezolveConnector, control: Control) -> None:
    before = await connector.get_ticket("REQ-0002")

    after = await connector.update_ticket("REQ-0002", TicketChanges(priority_name="High"), expected=None)

    assert after.version == before.version
    assert "updateTicket" not in (await control.calls())["calls"]


async def test_a_status_several_hops_away_is_reached_through_the_workflow(
    connector: RezolveConnector, control: Control
) -> None:
    after = await connector.update_ticket("REQ-0001", TicketChanges(target_status="Resolved"), expected=None)

    assert (after.status_name, after.status_category) == ("Resolved", "done")
    # submitted -> in_progress -> resolved: the sandbox enforces each transition.
    assert (await control.calls())["calls"]["updateTicket"] == 2


async def test_a_status_the_workflow_cannot_reach_is_rejected(connector: RezolveConnector) -> None:
    await connector.update_ticket("REQ-0001", TicketChanges(target_status="cancelled"), expected=None)

    with pytest.raises(VendorRejected) as caught:
        await connector.update_ticket("REQ-0001", TicketChanges(target_status="Resolved"), expected=None)

    assert "status" in caught.value.field_errors


async def test_vendor_validation_errors_name_our_fields(connector: RezolveConnector) -> None:
    with pytest.raises(VendorRejected) as caught:
        await connector.update_ticket(
            "REQ-0001",
            TicketChanges(assignee_vendor_id="00000000-0000-4000-8000-000000000000"),
            expected=None,
        )

    assert caught.value.field_errors == {"assigned_user_id": "Unknown user"}


async def test_a_rejected_item_fails_alone(connector: RezolveConnector) -> None:
    items = [make_item(1), make_item(2, priority_name="Urgent"), make_item(3, project_vendor_id="nope")]

    outcomes = await connector.create_tickets(items)

    assert [outcome.succeeded for outcome in outcomes] == [True, False, False]
    assert "priority" in (outcomes[1].error or "")
    assert "Team not found (nope)" in (outcomes[2].error or "")


async def test_unknown_tickets_are_not_found(connector: RezolveConnector) -> None:
    with pytest.raises(VendorNotFound):
        await connector.get_ticket("REQ-9999")
    with pytest.raises(VendorNotFound):
        await connector.get_ticket("3f0b6a2e-0000-4000-8000-000000000000")
