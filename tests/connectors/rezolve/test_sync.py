"""Iteration for sync: changed tickets oldest change first, and the ids of every ticket."""

from __future__ import annotations

from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.domain.tickets import TicketChanges


async def test_every_ticket_comes_once_oldest_change_first(connector: RezolveConnector) -> None:
    await connector.update_ticket("REQ-0001", TicketChanges(name="Touched last"), expected=None)

    pages = [page async for page in connector.iter_tickets(updated_since=None, page_size=3)]

    keys = [t.key for page in pages for t in page]
    assert [len(page) for page in pages] == [3, 1]
    assert sorted(keys) == ["INC-0001", "INC-0002", "REQ-0001", "REQ-0002"] and keys[-1] == "REQ-0001"


async def test_only_tickets_changed_since_the_watermark_come(connector: RezolveConnector) -> None:
    untouched = await connector.get_ticket("INC-0002")
    assert untouched.updated_at is not None
    updated = await connector.update_ticket("REQ-0002", TicketChanges(name="Changed"), expected=None)
    assert updated.updated_at is not None and updated.updated_at > untouched.updated_at

    pages = [page async for page in connector.iter_tickets(updated_since=updated.updated_at, page_size=10)]

    assert [[t.key for t in page] for page in pages] == [["REQ-0002"]]


async def test_the_ids_of_every_ticket_come_in_pages(connector: RezolveConnector) -> None:
    demo = [(await connector.get_ticket(key)).vendor_id for key in ("REQ-0001", "REQ-0002", "INC-0001", "INC-0002")]

    pages = [page async for page in connector.iter_ticket_ids(page_size=3)]

    assert [len(page) for page in pages] == [3, 1]
    assert sorted(i for page in pages for i in page) == sorted(demo)
