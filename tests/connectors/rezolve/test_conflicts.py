"""The etag rules: edits made meanwhile to other fields are kept and the update re-applied; edits to
the fields being written are conflicts; a lost answer is checked by re-reading, never replayed."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.connectors.errors import VersionConflict
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.sandboxes.rezolve import REQUEST_FIELDS

from .support import Control, SteppingTransport

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

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Renamed"), expected_version=None)

    assert (after.name, after.priority_name) == ("Renamed", "Low")
    # The first PATCH met ETAG_MISMATCH; the second, over the re-read etag, went through.
    assert (await control.calls())["calls"]["updateTicket"] == 2


async def test_an_edit_to_the_same_field_meanwhile_is_a_conflict_naming_it(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    person_edits_first(transport, control, {REQUEST_FIELDS.summary: "Their title"})

    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket(
            "REQ-0001", TicketChanges(name="Our title", priority_name="high"), expected_version=None
        )

    current = await connector.get_ticket("REQ-0001")
    assert caught.value.fields == ["name"]
    assert caught.value.current_version == current.version
    assert (current.name, current.priority_name) == ("Their title", "Medium")


async def test_a_stale_expected_version_conflicts_on_the_fields_changed_since(
    connector: RezolveConnector, control: Control
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    newer = await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low", REQUEST_FIELDS.tags: []})

    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket(
            "REQ-0001", TicketChanges(priority_name="high", name="x"), expected_version=seen.version
        )

    assert (caught.value.fields, caught.value.current_version) == (["priority"], newer)
    assert "updateTicket" not in (await control.calls())["calls"]


async def test_a_stale_expected_version_is_fine_when_only_other_fields_changed(
    connector: RezolveConnector, control: Control
) -> None:
    seen = await connector.get_ticket("REQ-0001")
    await control.edit("REQ-0001", {REQUEST_FIELDS.priority: "low"})

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Ours"), expected_version=seen.version)

    assert (after.name, after.priority_name) == ("Ours", "Low")


async def test_an_expected_version_never_seen_conflicts_on_every_field_written(
    connector: RezolveConnector,
) -> None:
    with pytest.raises(VersionConflict) as caught:
        await connector.update_ticket(
            "REQ-0001",
            TicketChanges(name="x", target_status="In Progress"),
            expected_version="d0e1a3c5-0000-4000-8000-000000000000",
        )

    assert sorted(caught.value.fields) == ["name", "status"]


async def test_a_lost_answer_is_checked_by_rereading_not_replayed(
    connector: RezolveConnector, control: Control
) -> None:
    await control.faults(lost_response_rate=1, writes_only=True)

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="Applied once"), expected_version=None)

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

    after = await connector.update_ticket("REQ-0001", TicketChanges(name="After timeout"), expected_version=None)

    assert (after.name, after.priority_name) == ("After timeout", "Low")
    assert (await control.calls())["calls"]["updateTicket"] == 1
