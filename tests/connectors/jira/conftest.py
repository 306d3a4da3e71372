"""The Jira connector's tests: one connector over the Jira sandbox, as the factory builds it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from tests.vendors import JIRA_URL
from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.jira import SPEC
from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import ConnectionState, HealthName, Vendor
from ticketbridge.sandboxes import jira
from ticketbridge.sandboxes.faults import SandboxTransport


@pytest.fixture
async def connector(jira_sandbox: FastAPI) -> AsyncIterator[JiraConnector]:
    now = datetime.now(UTC)
    connection = ConnectionRead(
        id=uuid.uuid4(), organization_id=uuid.uuid4(), vendor=Vendor.JIRA, state=ConnectionState.ACTIVE,
        base_url=JIRA_URL, status_mapping={}, priority_mapping={}, refresh_interval_secs=3600,
        timeout_secs=60, health_name=HealthName.HEALTHY, health_description=None, last_synced_at=None,
        created_at=now, updated_at=now,
    )  # fmt: skip
    credentials = {"email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN}
    built = SPEC.build(connection, credentials, SandboxTransport(jira_sandbox), MetadataCache())
    assert isinstance(built, JiraConnector)
    yield built
    await built.aclose()
