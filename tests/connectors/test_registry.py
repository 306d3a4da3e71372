"""The registry of vendor specs: every vendor declares all the rest of the code needs, and nothing
outside a vendor's folders names it."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_bulk import job, run_jobs, tickets
from tests.builders import make_tenant
from tests.support.connectors import make_connection, make_item
from tests.support.sandboxes import calls, control
from tests.support.vendor_cases import VendorCase, cases
from tests.vendors import SandboxRouter
from ticketbridge.connectors import ConnectorFactory, default_registry, spec_for
from ticketbridge.connectors.base import ConnectorSpec, SearchConsistency
from ticketbridge.connectors.credentials import Credentials, parse_credentials
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus
from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.state import Runtime

SOURCE = Path(__file__).parents[2] / "src" / "ticketbridge"
#: Files outside the vendor folders that may name a vendor, and why.
MAY_NAME_VENDORS = {
    "demo.py": "composes the demo: starts each vendor's sandbox and provisions a connection to it",
}


@pytest.mark.parametrize("vendor", list(Vendor), ids=str)
def test_every_vendor_has_a_complete_spec(vendor: Vendor) -> None:
    spec = spec_for(vendor)
    assert spec.vendor is vendor and spec.title and spec.base_url_hint
    assert issubclass(spec.credentials_model, Credentials)
    assert spec.capabilities.bulk_create_size >= 1
    assert spec.default_status_mapping and spec.default_priority_mapping
    assert all(isinstance(value, NormalizedStatus) for value in spec.default_status_mapping.values())
    assert all(isinstance(value, NormalizedPriority) for value in spec.default_priority_mapping.values())


def test_the_registry_is_keyed_by_each_specs_vendor() -> None:
    registry = default_registry()
    assert set(registry) == set(Vendor)
    assert all(spec.vendor is vendor for vendor, spec in registry.items())
    assert default_registry() is not registry  # a fresh dict: trimming one changes no other


def test_credentials_are_parsed_by_the_specs_model() -> None:
    for vendor, spec in default_registry().items():
        with pytest.raises(InvalidRequest) as caught:
            parse_credentials(vendor, {"no_such_field": "x"})
        assert all(detail["loc"][:2] == ["body", "credentials"] for detail in caught.value.details)
        with pytest.raises(InvalidRequest):
            spec.parse_credentials({"no_such_field": "x"})


def test_no_module_outside_the_vendor_folders_names_a_vendor() -> None:
    """`Vendor.JIRA` and the like appear only in connectors/<vendor>/ and sandboxes/<vendor>/."""
    folders = {str(vendor).lower() for vendor in Vendor}
    member = re.compile(r"\bVendor\.(" + "|".join(vendor.name for vendor in Vendor) + r")\b")
    offenders = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE)
        in_vendor_folder = relative.parts[0] in ("connectors", "sandboxes") and relative.parts[1] in folders
        if in_vendor_folder or str(relative) in MAY_NAME_VENDORS:
            continue
        lines = enumerate(path.read_text().splitlines(), 1)
        offenders += [f"{relative}:{number}" for number, line in lines if member.search(line)]
    assert offenders == []


# --- the capabilities drive what the connectors and services do ---------------------------------


def with_capabilities(spec: ConnectorSpec, **changes: object) -> dict[Vendor, ConnectorSpec]:
    """The default registry, but `spec`'s vendor declares `changes` to its capabilities."""
    return {**default_registry(), spec.vendor: replace(spec, capabilities=replace(spec.capabilities, **changes))}


@pytest.mark.parametrize("case", cases(), ids=str)
async def test_each_connector_is_built_with_its_specs_capabilities_and_settles_as_they_say(case: VendorCase) -> None:
    """`marker_settle_seconds` is 0 exactly for a vendor whose search reads its own writes: a marker
    search right after a create is then trusted, and must be."""
    spec = case.spec
    connector = ConnectorFactory().build(make_connection(case.vendor, case.base_url), case.credentials)
    try:
        assert connector.capabilities is spec.capabilities
        if spec.capabilities.search_consistency is SearchConsistency.READ_YOUR_WRITES:
            assert connector.marker_settle_seconds == 0
        else:
            assert connector.marker_settle_seconds > 0
    finally:
        await connector.aclose()


@pytest.mark.parametrize("case", cases(lambda case: case.spec.capabilities.bulk_create_size > 2), ids=str)
async def test_a_smaller_bulk_create_size_takes_more_create_calls(case: VendorCase) -> None:
    """The connector splits creates by the spec's `bulk_create_size`, not by a constant of its own: the
    same five items take one create call as the vendor declares itself, three when it declares 2."""
    items = 5
    counts = {}
    for size in (case.spec.capabilities.bulk_create_size, 2):
        app = case.standalone(case.base_url)
        factory = ConnectorFactory(
            registry=with_capabilities(case.spec, bulk_create_size=size), transport=SandboxTransport(app)
        )
        connector = factory.build(make_connection(case.vendor, case.base_url), case.credentials)
        try:
            batch = [
                make_item(n, project_vendor_id=case.project_vendor_id, type_vendor_id=case.type_vendor_id)
                for n in range(items)
            ]
            outcomes = await connector.create_tickets(batch)
        finally:
            await connector.aclose()
        assert all(outcome.succeeded for outcome in outcomes), outcomes
        counts[size] = await calls(app)
    declared, small = counts.values()
    changed = {operation for operation in small if small[operation] != declared.get(operation)}
    assert [(declared.get(op), small[op]) for op in changed] == [(1, math.ceil(items / 2))], (declared, small)


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk_update", "one_update_per_ticket"])
async def test_bulk_update_jobs_follow_the_specs_bulk_update(
    client: httpx.AsyncClient,
    runtime: Runtime,
    jira_sandbox: FastAPI,
    vendor_transport: SandboxRouter,
    bulk: bool,
) -> None:
    """One bulk edit of every ticket when the spec says the vendor has bulk updates; one update call
    per ticket when it says not (here Jira, whose spec says it has)."""
    spec = spec_for(Vendor.JIRA)
    assert spec.capabilities.bulk_update
    runtime.connectors = ConnectorFactory(
        registry=with_capabilities(spec, bulk_update=bulk), transport=vendor_transport
    )
    tenant = await make_tenant(client)
    created = await client.post("/v1/itsm/tickets/bulk/sync", json={"tickets": tickets(3)}, headers=tenant.headers)
    ticket_ids = [result["ticket_id"] for result in created.json()["results"]]
    await control(jira_sandbox, "DELETE", "/calls")
    accepted = await client.post(
        "/v1/itsm/tickets/bulk/update",
        json={"ticket_ids": ticket_ids, "updates": {"name": "Triaged"}},
        headers=tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    await run_jobs(runtime)
    done = await job(client, tenant, accepted.json()["job_id"])
    assert done["status"] == "SUCCESS" and done["progress"]["succeeded"] == 3, done
    assert (await calls(jira_sandbox))["submitBulkEdit"] == (1 if bulk else 3)
