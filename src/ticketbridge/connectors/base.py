"""The connector protocol: every call services make to a vendor, and nothing else.

Calls are batch-first, like the vendors' own APIs. A connector speaks in `ticketbridge.domain`
values; vendor payloads never cross this seam. Errors are the ones in `connectors.errors`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import httpx

from ticketbridge.connectors.credentials import Credentials, validate_credentials
from ticketbridge.connectors.http import VendorHttp
from ticketbridge.connectors.oauth import OAuthProvider
from ticketbridge.connectors.pacing import LimitWindow
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.fields import WriteMetadata
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
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus
from ticketbridge.enums import Vendor

T = TypeVar("T")
#: How long a connector keeps a project and type's write metadata (and a ticket's edit metadata)
#: before it asks the vendor again; a write refused for a field reason refreshes it at once.
WRITE_METADATA_TTL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class ProjectPage:
    items: list[VendorProject]
    total: int | None


class Connector(Protocol):
    """One instance per connection and unit of work; `aclose` releases its HTTP client."""

    vendor: Vendor
    #: What its spec declares (`ConnectorSpec.capabilities`, handed to `build`); services decide by it.
    capabilities: Capabilities
    #: How long after a create the vendor's search may still miss it (Jira's index lag): a marker
    #: search for a create whose outcome is unknown is trustworthy only this long after the create.
    marker_settle_seconds: float

    async def check_health(self) -> None:
        """Raises VendorAuthError or VendorRetriable when the vendor cannot be used."""

    async def create_tickets(
        self, items: Sequence[CreateItem], *, reconcile: Collection[str] = (), provisional_ok: bool = False
    ) -> list[ItemOutcome]:
        """Creates each item at most once, in as few vendor calls as the vendor allows.

        Items whose key is in `reconcile` (an earlier attempt may have reached the vendor) are first
        looked up by marker and adopted when found; the caller names them only once a marker search
        can be trusted (`marker_settle_seconds` after that attempt). Outcomes come back in input
        order; an item sent without a confirmation comes back `unknown` (never retried blindly here).
        With `provisional_ok`, a vendor whose create answers only ids (Jira) may skip reading the
        ticket back when the request and what it knows answer every field the API requires: the
        outcome is then `provisional`, and the caller reads it later with `get_tickets`.
        Raises (VendorRetriable, VendorAuthError, ...) only when no item can have been written."""

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        """Raises VendorNotFound."""

    async def get_tickets(self, vendor_ids: Sequence[str]) -> dict[str, VendorTicket]:
        """The current state of tickets by vendor id, in as few calls as the vendor allows
        (read-after-write consistent); ids of tickets that no longer exist are left out."""

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

    async def write_metadata(
        self, project_vendor_id: str, *, type_vendor_id: str | None, type_name: str | None, refresh: bool = False
    ) -> WriteMetadata:
        """The fields a create into that project and ticket type takes now (the type by id, else by
        name), from the connection's MetadataCache for `WRITE_METADATA_TTL_SECONDS` unless `refresh`.
        Raises VendorNotFound for a project or type the vendor does not have."""

    async def edit_metadata(self, vendor_ref: str, *, refresh: bool = False) -> WriteMetadata:
        """The fields an edit of that ticket can set now, cached likewise. Raises VendorNotFound."""

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


class SearchConsistency(StrEnum):
    """How soon the vendor's search (marker lookups, sync pages) sees a write."""

    #: Right away: a marker search just after a create finds it (Rezolve, ServiceNow).
    READ_YOUR_WRITES = "read_your_writes"
    #: After an index lag: an empty search just after a create proves nothing (Jira).
    EVENTUAL = "eventual"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a vendor can do, declared once in its spec and nowhere else: `build` hands it to the
    connector, and the connector and the services behave as it says."""

    #: Tickets one create call takes at most (1: no bulk create, items go one call each): the
    #: connector splits a batch of creates into vendor calls of this size.
    bulk_create_size: int
    #: Whether the vendor itself refuses a write to a ticket changed since a version we name
    #: (Rezolve's etag). Without it, If-Match is a read-compare-write with a race window, and the
    #: update endpoint's documentation names the vendor among those that have one.
    conditional_writes: bool
    #: How soon its search sees a write: `Connector.marker_settle_seconds` is 0 for READ_YOUR_WRITES
    #: and more for EVENTUAL, and only an EVENTUAL vendor's settle time is replaced by the setting.
    search_consistency: SearchConsistency
    #: What the vendor's `X-RateLimit-Limit` counts: requests a second refilled steadily, or an hour's
    #: back at once when the window resets. The rate-limit gates pace by it (`connectors.pacing`).
    rate_limit_window: LimitWindow
    #: Whether many tickets get one update in one call (Jira's bulk APIs). Otherwise a bulk update
    #: job sends one update per ticket and records each ticket as soon as its update is answered.
    bulk_update: bool = False


#: `build(connection, credentials, transport, cache, http, capabilities)`: one connector for a unit of
#: work, behaving as `capabilities` (the spec's) say.
BuildConnector = Callable[
    [ConnectionRead, dict[str, Any], httpx.AsyncBaseTransport | None, MetadataCache, VendorHttp, Capabilities],
    Connector,
]


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """Everything the rest of the code knows about a vendor, declared in `connectors/<vendor>/__init__.py`.

    Services, the API, jobs and the store look a vendor up in the registry (`connectors.spec_for`)
    and read it from here; none of them names a vendor."""

    vendor: Vendor
    #: How the vendor calls itself in messages and documentation ("Jira Cloud").
    title: str
    capabilities: Capabilities
    #: What a connection logs in with; validated before it is encrypted and stored.
    credentials_model: type[Credentials]
    #: What a connection's `base_url` names, for documentation ("Jira site URL").
    base_url_hint: str
    #: Vendor status name -> normalized status, for a connection created without a status mapping.
    default_status_mapping: Mapping[str, NormalizedStatus]
    #: Vendor priority name -> normalized priority, likewise.
    default_priority_mapping: Mapping[str, NormalizedPriority]
    build: BuildConnector = field(repr=False)
    #: How customers connect by OAuth 2.0 consent (3LO), when the vendor offers it; None otherwise.
    oauth: OAuthProvider | None = field(default=None, repr=False)

    def parse_credentials(self, data: dict[str, Any]) -> Credentials:
        """`data` validated by `credentials_model`; InvalidRequest naming the fields otherwise."""
        return validate_credentials(self.credentials_model, data, vendor=self.vendor)
