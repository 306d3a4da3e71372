"""The connector protocol: every call services make to a vendor, and nothing else.

Calls are batch-first, like the vendors' own APIs. A connector speaks in `ticketbridge.domain`
values; vendor payloads never cross this seam. Errors are the ones in `connectors.errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from ticketbridge.connectors.http import VendorHttp
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import (
    CreateItem,
    ItemOutcome,
    SearchPage,
    TicketBaseline,
    TicketChanges,
    TicketRef,
    VendorIssueType,
    VendorProject,
    VendorTicket,
    VendorUser,
)
from ticketbridge.enums import Vendor

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProjectPage:
    items: list[VendorProject]
    total: int | None


class Connector(Protocol):
    """One instance per connection and unit of work; `aclose` releases its HTTP client."""

    vendor: Vendor
    #: How long after a create the vendor's search may still miss it (Jira's index lag): a marker
    #: search for a create whose outcome is unknown is trustworthy only this long after the create.
    marker_settle_seconds: float

    async def check_health(self) -> None:
        """Raises VendorAuthError or VendorRetriable when the vendor cannot be used."""

    async def create_tickets(
        self, items: Sequence[CreateItem], *, reconcile: Collection[str] = ()
    ) -> list[ItemOutcome]:
        """Creates each item at most once, in as few vendor calls as the vendor allows.

        Items whose key is in `reconcile` (an earlier attempt may have reached the vendor) are first
        looked up by marker and adopted when found; the caller names them only once a marker search
        can be trusted (`marker_settle_seconds` after that attempt). Outcomes come back in input
        order; an item sent without a confirmation comes back `unknown` (never retried blindly here).
        Raises (VendorRetriable, VendorAuthError, ...) only when no item can have been written."""

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        """Raises VendorNotFound."""

    async def update_ticket(
        self, vendor_ref: str, changes: TicketChanges, *, expected: TicketBaseline | None
    ) -> VendorTicket:
        """Applies a partial update and never overwrites a change made meanwhile. With `expected`
        (the ticket as stored at the version the caller saw), raises VersionConflict when the vendor's
        ticket is no longer at `expected.version` and the vendor cannot prove the update safe; a
        vendor that can (Rezolve) compares the written fields with `expected`'s values, never with
        what a process happens to remember, so the answer is the same in every process."""

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

    async def existing_ticket_ids(self, vendor_ids: Sequence[str]) -> set[str]:
        """The ids among `vendor_ids` of tickets that exist now, asked of the vendor directly (not
        through a listing that may shift): a deletion walk confirms with it before it marks a
        ticket inactive."""

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
    """Vendor metadata (priorities, workflows, ticket types, tokens) of one connection *as configured
    now*, shared across units of work in one process so a bulk job does not pay for lookups a
    previous one already made. The factory keys it by the connection's base URL and a fingerprint of
    its credentials and replaces it when either changes, so nothing here outlives the site it came
    from. `entries` maps (scope, name) to (stored at, value)."""

    entries: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    async def cached(
        self,
        key: tuple[str, str],
        load: Callable[[], Awaitable[T]],
        *,
        ttl_seconds: float,
        refresh: bool = False,
    ) -> T:
        """The value under `key`, loaded when missing, older than `ttl_seconds`, or `refresh` is asked.
        Concurrent misses of one key wait for a single load (a per-key lock) and share its value;
        a `refresh` that waited behind another load reuses what that load fetched."""
        if not refresh and (entry := self._fresh(key, ttl_seconds)) is not None:
            value: T = entry[1]
            return value
        asked_at = time.monotonic()
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._fresh(key, ttl_seconds)
            if entry is not None and (not refresh or entry[0] >= asked_at):
                value = entry[1]
                return value
            loaded = await load()
            self.entries[key] = (time.monotonic(), loaded)
            return loaded

    def setdefault(self, key: tuple[str, str], factory: Callable[[], T]) -> T:
        """The value under `key`, made by `factory` when missing; no TTL (for state such as a token
        cache or a learned workflow, which lives as long as this cache)."""
        entry = self.entries.get(key)
        if entry is None:
            entry = (time.monotonic(), factory())
            self.entries[key] = entry
        value: T = entry[1]
        return value

    def _fresh(self, key: tuple[str, str], ttl_seconds: float) -> tuple[float, Any] | None:
        entry = self.entries.get(key)
        if entry is None or time.monotonic() - entry[0] > ttl_seconds:
            return None
        return entry


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    vendor: Vendor
    config_model: type[BaseModel]
    build: Callable[
        [ConnectionRead, dict[str, Any], httpx.AsyncBaseTransport | None, MetadataCache, VendorHttp], Connector
    ]
