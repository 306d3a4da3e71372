"""The connector protocol against the ServiceNow sandbox, in process: creates exactly once, field
mapping, If-Match on sys_mod_count, close requirements, sync walks, passthrough, auth."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorAuthError, VendorNotFound, VendorRejected, VersionConflict
from ticketbridge.connectors.servicenow.connector import ServiceNowConnector
from ticketbridge.connectors.servicenow.writes import MAX_BATCH_ROUNDS
from ticketbridge.domain.tickets import TicketBaseline, TicketChanges, TicketRef
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.servicenow import ServiceNowSandboxConfig, create_app

from .conftest import Build
from .support import (
    BASE_URL,
    BETH,
    DAVID,
    NETWORK,
    SERVICE_DESK,
    Instance,
    RecordingTransport,
    credentials,
    make_connection,
    make_item,
    oauth_credentials,
)

CLOSE = {"close_code": "Solution provided", "close_notes": "Closed by ticketbridge"}


def baseline(version: str) -> TicketBaseline:
    return TicketBaseline(
        version=version, name="", description=None, status_name=None, priority_name=None, assignee_vendor_id=None
    )


async def test_a_create_maps_every_field_and_reads_back_what_the_instance_computed(
    connector: ServiceNowConnector,
) -> None:
    parent = (await connector.create_tickets([make_item(0)]))[0].ticket
    assert parent is not None
    item = make_item(
        1,
        description="Printer **on fire**, see [runbook](https://x.test/rb)",
        priority_name="2 - High",
        assignee_vendor_id=BETH,
        parent_vendor_id=parent.key,  # a number: looked up to its sys_id
        target_status="In Progress",
    )
    (outcome,) = await connector.create_tickets([item])
    ticket = outcome.ticket
    assert ticket is not None, outcome
    assert ticket.key.startswith("INC") and len(ticket.vendor_id) == 32
    assert (ticket.name, ticket.description) == ("Incident 1", "Printer on fire, see runbook (https://x.test/rb)")
    assert (ticket.status_name, ticket.status_category) == ("In Progress", "indeterminate")
    assert ticket.priority_name == "2 - High"  # computed by the instance from impact 1 x urgency 2
    assert (ticket.type_vendor_id, ticket.type_name) == ("network", "Network")
    assert (ticket.project_vendor_id, ticket.assignee_vendor_id) == (SERVICE_DESK, BETH)
    assert ticket.parent_vendor_id == parent.vendor_id
    assert ticket.labels == (item.marker,) and ticket.version == "0"
    assert (await connector.get_ticket(ticket.key)).vendor_id == ticket.vendor_id


@pytest.mark.parametrize("batch_api", [True, False], ids=["batch", "single"])
async def test_creates_under_lost_answers_make_exactly_one_incident_per_marker(
    build: Build, instance: Instance, batch_api: bool
) -> None:
    connector = build(batch_api=batch_api)
    items = [make_item(n) for n in range(12)]
    await instance.faults(lost_response_rate=0.5, writes_only=True, seed=7)
    created: dict[str, str] = {}
    unknown: set[str] = set()
    for _ in range(30):
        pending = [item for item in items if item.key not in created]
        if not pending:
            break
        outcomes = await connector.create_tickets(pending, reconcile=unknown)
        for outcome in outcomes:
            if outcome.ticket is not None:
                created[outcome.key] = outcome.ticket.vendor_id
            else:
                assert outcome.unknown, outcome  # never refused, never retried blindly
                unknown.add(outcome.key)
    await instance.faults()
    assert len(created) == len(items)
    assert unknown, "the faults should have lost some answers"
    assert ("batch.POST" in await instance.calls()) == batch_api
    for item in items:
        found = await instance.incidents(f"correlation_id={item.marker}")
        assert [row["sys_id"] for row in found] == [created[item.key]]


async def test_a_lost_answer_is_unknown_and_the_retry_adopts_instead_of_creating(
    connector: ServiceNowConnector, instance: Instance, transport: RecordingTransport
) -> None:
    item = make_item(1)
    await instance.faults(lost_response_rate=1.0, writes_only=True)
    (lost,) = await connector.create_tickets([item])
    assert lost.unknown and lost.ticket is None
    await instance.faults()
    posts = len(transport.writes())
    (adopted,) = await connector.create_tickets([item], reconcile={item.key})
    assert adopted.ticket is not None and transport.writes()[posts:] == []  # found by marker, not created
    assert len(await instance.incidents(f"correlation_id={item.marker}")) == 1


async def test_resolving_without_close_code_is_refused_before_any_call(
    connector: ServiceNowConnector, transport: RecordingTransport, instance: Instance
) -> None:
    with pytest.raises(VendorRejected) as refused:
        await connector.update_ticket("0" * 32, TicketChanges(target_status="Resolved"), expected=None)
    assert set(refused.value.field_errors) == {"close_code", "close_notes"}
    (outcome,) = await connector.create_tickets([make_item(1, target_status="Closed")])
    assert outcome.ticket is None and not outcome.unknown and "close_code" in (outcome.error or "")
    ref = TicketRef(vendor_id="0" * 32, key="INC0010001")
    held = await connector.update_tickets([ref], TicketChanges(target_status="On Hold"))
    assert "hold_reason" in (held[0].error or "")
    assert transport.sent == []  # not a token, not a read, not a write
    assert sum((await instance.calls()).values()) == 0


async def test_resolving_with_configured_close_values_reaches_the_state(build: Build) -> None:
    connector = build(**CLOSE, hold_reason="1")
    (outcome,) = await connector.create_tickets([make_item(1)])
    assert outcome.ticket is not None
    sys_id = outcome.ticket.vendor_id
    held = await connector.update_ticket(sys_id, TicketChanges(target_status="On Hold"), expected=None)
    assert held.status_name == "On Hold"
    resolved = await connector.update_ticket(sys_id, TicketChanges(target_status="6"), expected=None)
    assert (resolved.status_name, resolved.status_category) == ("Resolved", "done")
    assert resolved.resolved_at is not None


async def test_if_match_compares_sys_mod_count_and_a_stale_version_writes_nothing(
    connector: ServiceNowConnector, instance: Instance, transport: RecordingTransport
) -> None:
    (outcome,) = await connector.create_tickets([make_item(1)])
    ticket = outcome.ticket
    assert ticket is not None
    updated = await connector.update_ticket(ticket.vendor_id, TicketChanges(name="Renamed"), expected=baseline("0"))
    assert (updated.name, updated.version) == ("Renamed", "1")
    await instance.edit(ticket.vendor_id, {"urgency": "1"})  # a person, in the instance
    writes = len(transport.writes())
    with pytest.raises(VersionConflict) as conflict:
        await connector.update_ticket(ticket.vendor_id, TicketChanges(name="Stale"), expected=baseline("1"))
    assert conflict.value.current_version == "2"
    assert transport.writes()[writes:] == []
    fresh = await connector.update_ticket(ticket.vendor_id, TicketChanges(priority_name="Low"), expected=None)
    assert (fresh.name, fresh.priority_name) == ("Renamed", "4 - Low")


async def test_a_marker_field_that_does_not_exist_is_refused_and_never_queried(
    build: Build, transport: RecordingTransport
) -> None:
    connector = build(marker_field="correlation_idd")
    item = make_item(1)
    (outcome,) = await connector.create_tickets([item], reconcile={item.key})
    assert outcome.ticket is None and "correlation_idd" in (outcome.error or "")
    assert transport.writes() == []
    assert not [query for query in transport.queries if "correlation_iddIN" in query]  # it would match all


async def test_sync_walks_ties_within_a_second_once_each_and_then_only_changes(
    connector: ServiceNowConnector, instance: Instance
) -> None:
    outcomes = await connector.create_tickets([make_item(n) for n in range(7)])
    ids = {o.ticket.vendor_id for o in outcomes if o.ticket}
    assert len(ids) == 7
    seen: list[str] = []
    async for page in connector.iter_tickets(updated_since=None, page_size=2):
        assert len(page) <= 2
        seen += [ticket.vendor_id for ticket in page]
    assert len(seen) == len(set(seen)) and ids <= set(seen)  # the 5 demo incidents and ours
    newest = max(t.updated_at for t in [await connector.get_ticket(i) for i in ids] if t.updated_at)
    await asyncio.sleep(1.1)  # the instance's clock is to the second
    changed = sorted(ids)[3]
    await instance.edit(changed, {"short_description": "Changed"})
    later: list[str] = []
    async for page in connector.iter_tickets(updated_since=newest.replace(microsecond=0), page_size=2):
        later += [ticket.vendor_id for ticket in page if ticket.updated_at and ticket.updated_at > newest]
    assert later == [changed]


async def test_ids_walk_and_existence_are_asked_of_the_instance(connector: ServiceNowConnector) -> None:
    outcomes = await connector.create_tickets([make_item(n) for n in range(3)])
    ids = [o.ticket.vendor_id for o in outcomes if o.ticket]
    walked = [vendor_id async for page in connector.iter_ticket_ids(page_size=2) for vendor_id in page]
    assert walked == sorted(walked) and set(ids) <= set(walked)
    assert await connector.existing_ticket_ids([*ids, "f" * 32, "not-a-sys-id"]) == set(ids)


async def test_directory_and_passthrough(connector: ServiceNowConnector) -> None:
    statuses = {s.name: (s.vendor_id, s.category) for s in await connector.list_statuses()}
    assert statuses["New"] == ("1", "new") and statuses["Resolved"] == ("6", "done")
    priorities = await connector.list_priorities()
    assert [p.name for p in priorities] == ["1 - Critical", "2 - High", "3 - Moderate", "4 - Low", "5 - Planning"]
    page = await connector.list_projects(limit=2, offset=0, with_issue_types=True)
    assert page.total == 4 and len(page.items) == 2
    assert page.items[0].issue_types and "network" in {t.vendor_id for t in page.items[0].issue_types}
    groups = [p for projects in [p async for p in connector.iter_projects()] for p in projects]
    assert {g.vendor_id for g in groups} >= {SERVICE_DESK, NETWORK}
    members = await connector.list_assignable_users(NETWORK, None, 10)
    assert {u.vendor_id for u in members} == {BETH, DAVID}
    assert [u.vendor_id for u in await connector.list_assignable_users(NETWORK, "loo", 10)] == [DAVID]
    users = [u for batch in [b async for b in connector.iter_users()] for u in batch]
    assert BETH in {u.vendor_id for u in users}
    types = await connector.list_issue_types(SERVICE_DESK)
    assert ("inquiry", "Inquiry / Help") in {(t.vendor_id, t.name) for t in types}
    with pytest.raises(VendorNotFound):
        await connector.list_issue_types("../sys_user")
    found = await connector.search_tickets("category=network^ORDERBYnumber", cursor=None, limit=10)
    assert [t.type_vendor_id for t in found.items] == ["network"]


async def test_a_missing_incident_and_bad_credentials(build: Build) -> None:
    with pytest.raises(VendorNotFound):
        await build().get_ticket("f" * 32)
    with pytest.raises(VendorAuthError):
        await build(password="wrong").check_health()


async def test_oauth_password_grant_then_refresh(
    build: Build, instance: Instance, transport: RecordingTransport
) -> None:
    connector = build(**oauth_credentials())
    await connector.check_health()
    await connector.check_health()
    assert transport.sent.count("POST /oauth_token.do") == 1  # the token is cached per connection
    expired = await instance.http.post("/__sandbox__/tokens/expire", json={})
    assert expired.is_success, expired.text
    await build(**oauth_credentials()).check_health()  # 401, refreshed once, sent again
    assert transport.sent.count("POST /oauth_token.do") == 2
    assert transport.sent.count("GET /api/now/table/incident") == 4
    with pytest.raises(VendorAuthError):
        await build(**oauth_credentials(client_secret="wrong")).check_health()


async def test_what_a_batch_leaves_unserviced_is_never_written_and_reported_to_retry() -> None:
    app = create_app(ServiceNowSandboxConfig(base_url=BASE_URL, batch_max_input_bytes=2000))
    transport = RecordingTransport(SandboxTransport(app))
    connector = ConnectorFactory(transport=transport).build(make_connection(), credentials())
    try:
        small, large = make_item(1), make_item(2, description="x" * 5000)
        outcomes = await connector.create_tickets([small, large])
    finally:
        await connector.aclose()
    assert outcomes[0].ticket is not None
    assert outcomes[1].ticket is None and outcomes[1].unknown  # to be retried, after a marker search
    assert transport.sent.count("POST /api/now/v1/batch") == MAX_BATCH_ROUNDS  # resent, round after round
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        incidents = Instance(http)
        assert await incidents.incidents(f"correlation_id={large.marker}") == []
