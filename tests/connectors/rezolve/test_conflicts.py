"""The etag rules: edits made meanwhile to other fields are kept and the update re-applied; edits to
the fields being written are conflicts; a lost answer is checked by re-reading, never replayed."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VersionConflict
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.sandboxes.rezolve import REQUEST_FIELDS

from .support import Control, SteppingTransport, baseline, credentials, make_connection

UPDATE = ("PATCH", "/REQ-0001/update")


def person_edits_first(transport: SteppingTransport, control: Control, values: dict[str, object]) -> None:
    """A person saves `values` in Rezolve's UI between the connector's read and its PATCH."""

    async def edit(request: httpx.Request) -> None:
        await control.edit("REQ-0001", values)

    transport.hooks[UPDATE] = edit


async def test_an_edit_to_another_field_meanwhile_is_kept_and_the_update_reapplied(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    person_edits_first(transport, control, {REQUEST_FIELDS.priority: "low"})

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Renamed"), expected=None)

    assert (after.name, after.priority_name) == ("Renamed", "Low")
    # The first PATCH met ETAG_MISMATCH; the second, over the re-read etag, went through.
    assert (await control.calls())["calls"]["updateTicket"] == 2


async def test_an_edit_to_the_same_field_meanwhile_is_a_conflict_naming_it(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    person_edits_first(transport, control, {REQUEST_FIELDS.summary: "Their title"})

    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket("REQ-0001", TicketChanges(name="Our title", priority_name="high"), expected=None)

    current = await connector.get_ticket("REQ-0001")
    assert caught.value.fields == ["name"]
    assert caught.value.current_version == current.version
    assert (current.name, current.priority_name) == ("Their title", "Medium")


async def test_a_stale_expectation_conflicts_on_the_fields_changed_since(
    connector: RezolveConnector, control: Control
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    newer = await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low", REQUEST_FIELDS.tags: []})

    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket(
            "REQ-0001", TicketChanges(priority_name="high", name="x"), expected=baseline(seen)
        )

    assert (caught.value.fields, caught.value.current_version) == (["priority"], newer)
    assert "updateTicket" not in (await control.calls())["calls"]


async def test_a_stale_expectation_is_fine_when_only_other_fields_changed(
    connector: RezolveConnector, control: Control
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low"})

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Ours"), expected=baseline(seen))

    assert (after.name, after.priority_name) == ("Ours", "Low")


async def test_the_baseline_decides_not_what_the_process_read_before(
    factory: ConnectorFactory, control: Control
) -> None:
    """A connector whose process never saw the version (a fresh API process in distributed mode)
    answers exactly like one that did: the baseline, not memory, says what changed since."""
    connection = make_connection()
    reader = factory.build(connection, credentials())
    seen = await reader.get_ticket("REQ-0001")
    await reader.aclose()
    await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low"})
    fresh = ConnectorFactory(transport=factory.transport).build(connection, credentials())

    after = await fresh.update_ticket("REQ-0001", TicketChanges(name="Ours"), expected=baseline(seen))
    with pytest.raises(VersionConflict) as caught:
        await fresh.update_ticket("REQ-0001", TicketChanges(priority_name="high"), expected=baseline(seen))
    await fresh.aclose()

    assert (after.name, after.priority_name) == ("Ours", "Low")
    assert caught.value.fields == ["priority"]


async def test_a_baseline_unlike_the_ticket_conflicts_on_every_field_written_that_differs(
    connector: RezolveConnector,
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    other = baseline(seen, version="d0e1a3c5-0000-4000-8000-000000000000", name="Another title", status_name="Closed")

    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket(
            "REQ-0001", TicketChanges(name="x", target_status="In Progress", priority_name="high"), expected=other
        )

    assert sorted(caught.value.fields) == ["name", "status"]


async def test_a_field_already_at_the_value_written_is_no_conflict(
    connector: RezolveConnector, control: Control
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    await control.edit("REQ-0001", {REQUEST_FIELDS.summary: "Same idea"})

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Same idea"), expected=baseline(seen))

    assert after.name == "Same idea"
    assert "updateTicket" not in (await control.calls())["calls"]


async def test_a_lost_answer_is_checked_by_rereading_not_replayed(
    connector: RezolveConnector, control: Control
) -> None:
    await control.faults(lost_response_rate=1, writes_only=True)

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Applied once"), expected=None)

    calls = await control.calls()
    assert after.name == "Applied once"
    assert calls["calls"]["updateTicket"] == 1 and calls["faults"] == {"lost_response": 1}


async def test_a_timed_out_update_is_sent_again_over_the_etag_read_after_it(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    async def time_out(request: httpx.Request) -> None:
        await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low"})
        raise httpx.ReadTimeout("no answer", request=request)

    transport.hooks[UPDATE] = time_out

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="After timeout"), expected=None)

    assert (after.name, after.priority_name) == ("After timeout", "Low")
    assert (await control.calls())["calls"]["updateTicket"] == 1
