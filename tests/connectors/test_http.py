"""The vendor HTTP plumbing: timeouts from settings, the retry budget, and the write guard."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.vendors import JIRA_URL
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorOutcomeUnknown, VendorRetriable
from ticketbridge.connectors.http import RetryPolicy, VendorHttp, with_retries
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.jobs.models import LeaseLost
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.faults import SandboxTransport

JIRA_CREDENTIALS = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
REZOLVE_CREDENTIALS = {"tenant_id": "t", "realm": "r", "client_id": "c", "client_secret": "s"}


def make_connection(vendor: Vendor, *, timeout_secs: int = 1800) -> ConnectionRead:
    now = datetime.now(UTC)
    return ConnectionRead(
        id=uuid.uuid4(), organization_id=uuid.uuid4(), vendor=vendor, state=ConnectionState.ACTIVE,
        base_url=JIRA_URL, status_mapping={}, priority_mapping={}, refresh_interval_secs=3600,
        timeout_secs=timeout_secs, health_name=HealthName.HEALTHY, health_description=None,
        last_synced_at=None, created_at=now, updated_at=now,
    )  # fmt: skip


def http_client(connector: Connector) -> httpx.AsyncClient:
    client: httpx.AsyncClient = connector._client._http  # type: ignore[attr-defined]
    return client


def policy(connector: Connector) -> RetryPolicy:
    retry: RetryPolicy = connector._policy  # type: ignore[attr-defined]
    return retry


@pytest.mark.parametrize(
    ("vendor", "credentials"), [(Vendor.JIRA, JIRA_CREDENTIALS), (Vendor.REZOLVE, REZOLVE_CREDENTIALS)]
)
async def test_the_built_client_carries_the_configured_vendor_timeout(
    vendor: Vendor, credentials: dict[str, Any]
) -> None:
    settings = Settings(vendor_timeout_seconds=6.5, vendor_retry_attempts=3, vendor_retry_budget_seconds=7.0)
    factory = ConnectorFactory(http=VendorHttp.from_settings(settings))
    connector = factory.build(make_connection(vendor), credentials)
    try:
        timeout = http_client(connector).timeout
        assert (timeout.read, timeout.write, timeout.pool) == (6.5, 6.5, 6.5)
        assert timeout.connect is not None and timeout.connect <= 6.5
        assert (policy(connector).attempts, policy(connector).attempt_timeout, policy(connector).budget) == (
            3,
            6.5,
            7.0,
        )
    finally:
        await connector.aclose()


async def test_a_connections_own_timeout_only_lowers_the_setting() -> None:
    factory = ConnectorFactory(http=VendorHttp.from_settings(Settings(vendor_timeout_seconds=9.0)))
    lower = factory.build(make_connection(Vendor.JIRA, timeout_secs=5), JIRA_CREDENTIALS)
    higher = factory.build(make_connection(Vendor.JIRA, timeout_secs=1800), JIRA_CREDENTIALS)
    try:
        assert http_client(lower).timeout.read == 5.0 and policy(lower).attempt_timeout == 5.0
        assert http_client(higher).timeout.read == 9.0
    finally:
        await lower.aclose()
        await higher.aclose()


def test_the_factory_defaults_are_the_settings_defaults() -> None:
    assert VendorHttp() == VendorHttp.from_settings(Settings())


async def test_an_attempt_that_outlives_its_timeout_is_cut_and_a_write_is_not_retried() -> None:
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5)

    started = time.monotonic()
    with pytest.raises(VendorOutcomeUnknown, match=r"no complete answer within 0\.05 s"):
        await with_retries(hang, policy=RetryPolicy(attempt_timeout=0.05, budget=1.0), operation="w", idempotent=False)
    assert calls == 1 and time.monotonic() - started < 1.0


async def test_retries_stop_at_the_budget_waits_included() -> None:
    calls = 0

    async def rate_limited() -> None:
        nonlocal calls
        calls += 1
        raise VendorRetriable("429", status_code=429, retry_after=0.15)

    started = time.monotonic()
    with pytest.raises(VendorRetriable):
        await with_retries(rate_limited, policy=RetryPolicy(attempts=50, budget=0.5), operation="r", idempotent=True)
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 and 2 <= calls <= 4


async def test_the_write_guard_runs_before_writes_only(jira_sandbox: FastAPI) -> None:
    checks: list[str] = []

    def lease_lost() -> None:
        checks.append("checked")
        raise LeaseLost("the lease is about to expire")

    factory = ConnectorFactory(transport=SandboxTransport(jira_sandbox))
    connector = factory.build(make_connection(Vendor.JIRA), JIRA_CREDENTIALS, before_write=lease_lost)
    item = CreateItem.model_validate(
        {"key": "k1", "marker": f"tb-{uuid.uuid4().hex}", "name": "Guarded", "project_vendor_id": "DEMO",
         "type_vendor_id": "10001", "type_name": None, "description": None, "priority_name": None,
         "assignee_vendor_id": None, "parent_vendor_id": None, "target_status": None}
    )  # fmt: skip
    try:
        await connector.check_health()  # a read: never guarded
        assert checks == []
        with pytest.raises(LeaseLost):
            await connector.create_tickets([item])
        assert checks
    finally:
        await connector.aclose()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_sandbox), base_url=JIRA_URL) as control:
        calls = (await control.get("/__sandbox__/calls")).json()
    assert "createIssues" not in calls, calls
