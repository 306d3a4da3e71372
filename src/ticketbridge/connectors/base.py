"""The connector protocol: every call services make to a vendor, and nothing else.

Calls are batch-first, like the vendors' own APIs. A connector speaks in `ticketbridge.domain`
values; vendor payloads never cross this seam. Errors are the ones in `connectors.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import (
    CreateItem,
    ItemOutcome,
    SearchPage,
    TicketChanges,
    TicketRef,
    VendorIssueType,
    VendorProject,
    VendorTicket,
    VendorUser,
)
from ticketbridge.enums import Vendor


@dataclass(frozen=True, slots=True)
class ProjectPage:
    items: list[VendorProject]
    total: int | None


class Connector(Protocol):
    """One instance per connection and unit of work; `aclose` releases its HTTP client."""

    vendor: Vendor

    async def check_health(self) -> None:
        """Raises VendorAuthError or VendorRetriable when the vendor cannot be used."""

    async def create_tickets(self, items: Sequence[CreateItem], *, reconcile: bool) -> list[ItemOutcome]:
        """Creates each item exactly once, in as few vendor calls as the vendor allows.

        With `reconcile`, items whose marker already exists on the vendor are adopted, not created
        again (use it whenever an earlier attempt may have reached the vendor). Outcomes come back
        in input order. Raises VendorRetriable when the whole batch must wait."""

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        """Raises VendorNotFound."""

    async def update_ticket(
        self, vendor_ref: str, changes: TicketChanges, *, expected_version: str | None
    ) -> VendorTicket:
        """Applies a partial update. With `expected_version`, raises VersionConflict when the vendor's
        ticket is no longer at that version, and never overwrites a change made meanwhile."""

    async def update_tickets(self, refs: Sequence[TicketRef], changes: TicketChanges) -> list[ItemOutcome]:
        """The same changes on many tickets, in bulk where the vendor allows. Outcomes come back in
        input order, keyed by vendor id."""

    async def list_projects(self, *, limit: int, offset: int, with_issue_types: bool) -> ProjectPage: ...

    async def list_issue_types(self, project_vendor_id: str) -> list[VendorIssueType]: ...

    async def list_assignable_users(
        self, project_vendor_id: str, query: str | None, limit: int
    ) -> list[VendorUser]: ...

    async def search_tickets(self, query: str, *, cursor: str | None, limit: int) -> SearchPage: ...

    def iter_tickets(self, *, updated_since: datetime | None, page_size: int) -> AsyncIterator[list[VendorTicket]]:
        """Pages of tickets changed since `updated_since` (all when None), oldest change first."""

    def iter_ticket_ids(self, *, page_size: int) -> AsyncIterator[list[str]]:
        """Pages of the ids of every ticket that exists now (deletion detection)."""

    def iter_projects(self) -> AsyncIterator[list[VendorProject]]: ...

    def iter_users(self) -> AsyncIterator[list[VendorUser]]: ...

    async def list_priorities(self) -> list[VendorPriority]:
        """Every priority of the connection, read from the vendor now (not from a cache), so that a
        sync sees one the moment it is gone."""

    async def list_statuses(self) -> list[VendorStatus]:
        """Every status of the connection with its category, read from the vendor now."""

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class MetadataCache:
    """Per-connection vendor metadata (priorities, workflows, ticket types) shared across units of
    work in one process, so a bulk job does not pay for lookups a previous one already made."""

    entries: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    vendor: Vendor
    config_model: type[BaseModel]
    build: Callable[[ConnectionRead, dict[str, Any], httpx.AsyncBaseTransport | None, MetadataCache], Connector]
