"""Bulk operations: single calls, bounded in number at once, outcomes in input order; creation
exactly once under the sandbox's lost answers, 503s and 429s."""

from __future__ import annotations

import pytest

from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.rezolve.connector import MAX_CONCURRENT_ITEMS, RezolveConnector
from ticketbridge.domain.tickets import CreateItem, ItemOutcome, TicketChanges, TicketRef
from ticketbridge.sandboxes.rezolve import REQUEST_FIELDS

from .support import Control, SteppingTransport, make_item


async def test_bulk_creation_runs_a_bounded_number_of_calls_at_once(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    await control.faults(latency_ms=20)  # long enough for calls to overlap

    outcomes = await connector.create_tickets([make_item(n) for n in range(12)])

    assert [outcome.key for outcome in outcomes] == [f"item-{n}" for n in range(12)]
    assert all(outcome.succeeded for outcome in outcomes)
    assert 1 < transport.max_in_flight <= MAX_CONCURRENT_ITEMS


async def test_bulk_update_gives_outcomes_in_input_order_keyed_by_vendor_id(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    created = await connector.create_tickets([make_item(n) for n in range(8)])
    refs = [TicketRef(vendor_id=o.ticket.vendor_id, key=o.ticket.key) for o in created if o.ticket]
    missing = TicketRef(vendor_id="0f6c9a4e-0000-4000-8000-000000000000", key="REQ-9999")
    await control.faults(latency_ms=20)
    transport.max_in_flight = 0

    outcomes = await connector.update_tickets(
        [*refs[:4], missing, *refs[4:]], TicketChanges(priority_name="High", target_status="Resolved")
    )

    assert [o.key for o in outcomes] == [
        *(r.vendor_id for r in refs[:4]),
        missing.vendor_id,
        *(r.vendor_id for r in refs[4:]),
    ]
    assert "Ticket not found (REQ-9999)" in (outcomes[4].error or "")
    updated = [o.ticket for o in outcomes if o.ticket]
    assert len(updated) == 8
    assert {(t.priority_name, t.status_name) for t in updated} == {("High", "Resolved")}
    assert 1 < transport.max_in_flight <= MAX_CONCURRENT_ITEMS


async def test_a_ticket_edited_meanwhile_fails_alone_in_a_bulk_update(
    connector: RezolveConnector, transport: SteppingTransport, control: Control
) -> None:
    refs = [
        TicketRef(vendor_id=t.vendor_id, key=t.key)
        for t in [await connector.get_ticket("REQ-0001"), await connector.get_ticket("REQ-0002")]
    ]

    async def edit(request: object) -> None:
        await control.edit("REQ-0001", {REQUEST_FIELDS.summary: "Someone else's"})

    transport.hooks[("PATCH", "/REQ-0001/update")] = edit

    outcomes = await connector.update_tickets(refs, TicketChanges(name="Ours"))

    assert "changed meanwhile" in (outcomes[0].error or "")
    assert outcomes[1].ticket is not None and outcomes[1].ticket.name == "Ours"


async def create_until_done(connector: RezolveConnector, items: list[CreateItem]) -> list[ItemOutcome]:
    """What the create claims do: retry the unsettled items, reconciling the ones an attempt may
    have reached Rezolve with (Rezolve's list reads its writes, so no settle time is waited)."""
    settled: dict[str, ItemOutcome] = {}
    maybe_sent: set[str] = set()
    for _ in range(20):
        todo = [item for item in items if item.key not in settled]
        if not todo:
            return [settled[item.key] for item in items]
        try:
            outcomes = await connector.create_tickets(todo, reconcile=maybe_sent)
        except VendorRetriable:
            continue
        for outcome in outcomes:
            if outcome.unknown:
                maybe_sent.add(outcome.key)
            else:
                settled[outcome.key] = outcome
    raise AssertionError("the batch never completed")


@pytest.mark.parametrize("seed", [3, 11])
async def test_creation_is_exactly_once_under_lost_answers_and_errors(
    connector: RezolveConnector, control: Control, seed: int
) -> None:
    items = [make_item(n) for n in range(15)]
    # Faults on creates only: with a seed, the n-th create then meets the same fault on every run.
    await control.faults(
        lost_response_rate=0.3,
        error_rate=0.15,
        error_statuses=[500, 503],
        rate_limit_rate=0.15,
        retry_after_seconds=0,
        writes_only=True,
        seed=seed,
    )

    outcomes = await create_until_done(connector, items)

    faults = (await control.calls())["faults"]
    await control.faults()
    assert faults["lost_response"] > 0 and faults["status_429"] > 0 and faults.keys() & {"status_500", "status_503"}
    assert all(outcome.succeeded for outcome in outcomes)
    markers: dict[object, list[str]] = {}
    async for page in connector.iter_tickets(updated_since=None, page_size=100):
        for ticket in page:
            marker = ticket.custom_fields.get(REQUEST_FIELDS.externalReference)  # by field UUID
            markers.setdefault(marker, []).append(ticket.key)
    assert all(len(markers[item.marker]) == 1 for item in items)
    assert sum(map(len, markers.values())) == 4 + len(items)  # the demo's four, and ours once
    assert [outcome.ticket.key for outcome in outcomes if outcome.ticket] == [markers[i.marker][0] for i in items]


async def test_reconciling_adopts_tickets_an_earlier_attempt_created(
    connector: RezolveConnector, control: Control
) -> None:
    items = [make_item(1), make_item(2)]
    [first] = await connector.create_tickets(items[:1])

    outcomes = await connector.create_tickets(items, reconcile={item.key for item in items})

    assert first.ticket is not None and outcomes[0].ticket is not None
    assert outcomes[0].ticket.vendor_id == first.ticket.vendor_id
    assert outcomes[1].succeeded
    assert (await control.calls())["calls"]["createTicket"] == 2
