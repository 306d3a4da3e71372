"""The Jira Cloud connector: the connector protocol on top of `JiraClient`.

Creates go through POST /issue/bulk (the spec's `bulk_create_size` a call, Jira's cap of 50), each
carrying a marker label. Exactly once under
Jira's eventually consistent search rests on three facts:

- A create whose answer is lost is never retried here, and never settled by an immediate label
  search: right after a create, JQL often does not find the issue yet (the index lags writes), so an
  empty answer proves nothing. The item comes back `unknown` and its caller (the create claim,
  `services/create_claims.py`) keeps its identifier claimed.
- The caller asks for a marker search only `marker_settle_seconds` after the unconfirmed attempt
  (a deferred job step, never a sleeping worker). By then the index has the issue if it exists, so
  "not found" means "not created" and creating is safe.
- Issues whose id is known are read with `reconcileIssues`, which Jira documents as read-after-write
  consistent, so the read-back after a create never depends on the index.

A create's answer carries only ids. Once the first read-back of a project and issue type has shown
what Jira gives its new issues (`create_defaults.py`), later creates there answer without reading
back (`provisional_ok`): the caller reads them back off the request path.

Bulk updates use the bulk transition and bulk edit APIs and follow their tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ticketbridge.connectors.base import WRITE_METADATA_TTL_SECONDS, Capabilities, MetadataCache, ProjectPage
from ticketbridge.connectors.errors import (
    VendorError,
    VendorNotFound,
    VendorOutcomeUnknown,
    VendorRejected,
    VersionConflict,
)
from ticketbridge.connectors.http import RetryPolicy, with_retries
from ticketbridge.connectors.jira import fields as custom
from ticketbridge.connectors.jira import mapping
from ticketbridge.connectors.jira.client import (
    BULK_FETCH_LIMIT,
    BULK_TRANSITION_LIMIT,
    BULK_TRANSITION_WORKFLOWS_PAGE,
    RECONCILE_LIMIT,
    JiraClient,
    element_error_message,
)
from ticketbridge.connectors.jira.create_defaults import CreateDefaults
from ticketbridge.connectors.jira.workflow import MAX_HOPS, Edge, WorkflowGraph, next_cohort
from ticketbridge.connectors.paging import OffsetPage, TokenPage, offset_pages, token_pages
from ticketbridge.connectors.walk import ChangeFeed, ExcludingQueries, Page, walk_changes
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.fields import FieldRefusal, WriteMetadata
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
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.jira")
T = TypeVar("T")
METADATA_TTL_SECONDS = 600.0
#: How long a bulk task may run before the connector gives up following it.
BULK_TASK_TIMEOUT_SECONDS = 300.0
#: Rounds of bulk transitions: one status a round, each a hop, so several statuses several hops away.
MAX_BULK_ROUNDS = 16
#: A round asks about at most BULK_TRANSITION_LIMIT issues, so as many workflows: the pages those fill,
#: and one more in case the last page carries a cursor too (the document does not say).
MAX_TRANSITION_PAGES = BULK_TRANSITION_LIMIT // BULK_TRANSITION_WORKFLOWS_PAGE + 1
#: Hard cap on the pages one walk requests (a million issues at 100 a page).
MAX_SEARCH_PAGES = 10_000
#: Jira answers up to 5000 issues a page when only ids are asked for...
MAX_IDS_PAGE = 5000
#: ...and up to 100 with the fields a ticket needs.
MAX_FIELDS_PAGE = 100
#: The change walk's order: the one its keyset needs (ties by id).
SINCE_ORDER = "ORDER BY updated ASC, id ASC"
PROJECT_PAGE_SIZE = 50
USER_PAGE_SIZE = 100
#: findAssignableUsers looks at the site's first 1000 users only.
USER_WINDOW = 1000
#: JQL needs a restriction: this one admits every issue.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: JQL reads dates to the minute.
JQL_RESOLUTION = timedelta(minutes=1)
#: Jira documents no bound on its index lag; seconds are usual, so a generous default.
DEFAULT_MARKER_SETTLE_SECONDS = 15.0
#: Markers named in one `labels in (...)` search (a JQL query stays well under Jira's length limit).
MARKERS_PER_SEARCH = 50


class JiraConnector:
    vendor = Vendor.JIRA

    def __init__(
        self,
        *,
        client: JiraClient,
        site_url: str,
        cache: MetadataCache,
        capabilities: Capabilities,
        policy: RetryPolicy | None = None,
        marker_settle_seconds: float = DEFAULT_MARKER_SETTLE_SECONDS,
    ) -> None:
        self.capabilities = capabilities
        self.marker_settle_seconds = marker_settle_seconds
        self._client = client
        self._site_url = site_url.rstrip("/")
        self._cache = cache
        #: What this unit of work's last complete `iter_projects` listed: `iter_users` walks those
        #: projects instead of listing them again (a sync lists projects, then users).
        self._listed_projects: list[VendorProject] | None = None
        self._policy = policy or RetryPolicy()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check_health(self) -> None:
        me = await self._read(self._client.myself, "myself")

        async def answered() -> dict[str, str]:
            return _time_zone_of(me)

        # The same answer names the JQL time zone: the sync that follows a verification (a new
        # connection's first) reuses it rather than asking /myself again.
        await self._cache.cached(("metadata", "time_zone"), answered, ttl_seconds=METADATA_TTL_SECONDS, refresh=True)

    # --- create -----------------------------------------------------------------------------

    async def create_tickets(
        self, items: Sequence[CreateItem], *, reconcile: Collection[str] = (), provisional_ok: bool = False
    ) -> list[ItemOutcome]:
        outcomes: dict[str, ItemOutcome] = {}
        to_check = [item for item in items if item.key in reconcile]
        if to_check:
            adopted = await self._find_by_markers([item.marker for item in to_check])
            for item in to_check:
                if item.marker in adopted:
                    outcomes[item.key] = ItemOutcome(key=item.key, ticket=adopted[item.marker])
        pending = [item for item in items if item.key not in outcomes]
        size = self.capabilities.bulk_create_size
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            try:
                outcomes.update(await self._create_chunk(chunk))
            except VendorError as exc:
                if not outcomes and start == 0:
                    raise  # nothing can have been written: the whole batch waits
                # Earlier chunks are written: keep their outcomes, and these items were not sent.
                message = f"Jira did not take this item now: {exc.message}"
                outcomes.update({item.key: ItemOutcome(key=item.key, error=message, unknown=True) for item in chunk})
        await self._reach_target_statuses(items, outcomes)
        if provisional_ok:
            outcomes.update(self._provisional(items, outcomes))
        unread = [o.ticket.vendor_id for o in outcomes.values() if o.ticket and o.succeeded and not o.provisional]
        try:
            fresh = await self.get_tickets(unread)
        except VendorError as exc:  # the creates stand; the next sync brings the full state
            log.warning("connector.jira.read_back_failed", items=len(unread), error=exc.message)
            fresh = {}
        defaults = CreateDefaults(self._cache)
        for item in items:
            created = outcomes[item.key].ticket
            if created is not None and created.vendor_id in fresh:
                defaults.learn(item, fresh[created.vendor_id])
        return [
            outcome.model_copy(update={"ticket": fresh.get(outcome.ticket.vendor_id, outcome.ticket)})
            if outcome.ticket is not None
            else outcome
            for outcome in (outcomes[item.key] for item in items)
        ]

    def _provisional(self, items: Sequence[CreateItem], outcomes: dict[str, ItemOutcome]) -> dict[str, ItemOutcome]:
        """The outcomes whose ticket the request and the learned defaults of its project and type
        describe in full (`create_defaults`). An item moved to a status, or with custom fields (read
        back in the vendor's own form), is read back."""
        defaults = CreateDefaults(self._cache)
        provisional: dict[str, ItemOutcome] = {}
        for item in items:
            outcome = outcomes[item.key]
            if outcome.ticket is None or not outcome.succeeded or item.target_status or item.custom_fields:
                continue
            ticket = defaults.complete(item, outcome.ticket)
            if ticket is not None:
                provisional[item.key] = outcome.model_copy(update={"ticket": ticket, "provisional": True})
        return provisional

    async def _create_chunk(self, chunk: list[CreateItem]) -> dict[str, ItemOutcome]:
        """One createIssues call (retried inline only when Jira answered and so wrote nothing). A lost
        answer makes every item `unknown`: see the module docstring for why no search follows."""
        try:
            body = await with_retries(
                partial(self._client.create_issues, [{"fields": mapping.create_fields(i)} for i in chunk]),
                policy=self._policy,
                operation="createIssues",
                idempotent=False,
            )
        except VendorOutcomeUnknown as exc:
            log.info("connector.jira.create_outcome_unknown", items=len(chunk))
            message = f"Jira did not confirm the creation ({exc.message}); it will be reconciled by marker"
            return {item.key: ItemOutcome(key=item.key, error=message, unknown=True) for item in chunk}
        return self._map_created(chunk, body)

    def _map_created(self, items: list[CreateItem], body: dict[str, Any]) -> dict[str, ItemOutcome]:
        errors = {int(e["failedElementNumber"]): e for e in body.get("errors") or [] if "failedElementNumber" in e}
        if "issues" not in body and not errors:
            message = element_error_message(body)
            return {item.key: ItemOutcome(key=item.key, error=message) for item in items}
        created = iter(body.get("issues") or [])
        outcomes: dict[str, ItemOutcome] = {}
        for index, item in enumerate(items):
            if index in errors:
                element = errors[index].get("elementErrors") or {}
                refusals = tuple(
                    FieldRefusal(field=custom.UNIFIED_FIELDS.get(str(name), str(name)), message=str(text))
                    for name, text in (element.get("errors") or {}).items()
                )
                outcomes[item.key] = ItemOutcome(
                    key=item.key, error=element_error_message(element), field_errors=refusals
                )
                continue
            issue = next(created)
            placeholder = VendorTicket(
                vendor_id=str(issue["id"]),
                key=str(issue["key"]),
                project_vendor_id=item.project_vendor_id,
                type_name=item.type_name,
                type_vendor_id=item.type_vendor_id,
                status_name=None,
                status_category=None,
                priority_name=item.priority_name,
                assignee_vendor_id=item.assignee_vendor_id,
                reporter_vendor_id=None,
                parent_vendor_id=item.parent_vendor_id,
                name=item.name,
                description=item.description,
                labels=(item.marker,),
                url=f"{self._site_url}/browse/{issue['key']}",
                created_at=None,
                updated_at=None,
                version=mapping.UNCHANGED_SINCE_CREATED,
            )
            outcomes[item.key] = ItemOutcome(key=item.key, ticket=placeholder)
        return outcomes

    async def _reach_target_statuses(self, items: Sequence[CreateItem], outcomes: dict[str, ItemOutcome]) -> None:
        wanted = {item.key: item.target_status for item in items if item.target_status and outcomes[item.key].succeeded}
        if not wanted:
            return
        current = await self.get_tickets([outcomes[key].ticket.vendor_id for key in wanted])  # type: ignore[union-attr]
        for key, target in wanted.items():
            ticket = current.get(outcomes[key].ticket.vendor_id)  # type: ignore[union-attr]
            if ticket is None:
                continue
            try:
                await self._transition_to(ticket, target)
            except VendorError as exc:
                outcomes[key] = outcomes[key].model_copy(
                    update={"warning": f"Created, but status {target!r} was not reached: {exc.message}"}
                )

    async def _find_by_markers(self, markers: list[str]) -> dict[str, VendorTicket]:
        found: dict[str, VendorTicket] = {}
        wanted = set(markers)
        for start in range(0, len(markers), MARKERS_PER_SEARCH):
            quoted = ", ".join(f'"{marker}"' for marker in markers[start : start + MARKERS_PER_SEARCH])
            async for tickets in self._search_pages(f"labels in ({quoted}) ORDER BY created ASC", page_size=100):
                for ticket in tickets:
                    for label in ticket.labels:
                        if label in wanted and label not in found:
                            found[label] = ticket
        return found

    # --- read -------------------------------------------------------------------------------

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        issue = await self._read(lambda: self._client.get_issue(vendor_ref, ",".join(mapping.ISSUE_FIELDS)), "getIssue")
        return mapping.to_vendor_ticket(issue, site_url=self._site_url)

    async def get_tickets(self, vendor_ids: Sequence[str]) -> dict[str, VendorTicket]:
        """`RECONCILE_LIMIT` per search, all of them reconciled: search is eventually consistent, and
        an issue written a moment ago but not reconciled may be missing or stale. Jira refuses a JQL
        naming an issue that no longer exists: one deleted since our write is left out (asked of Jira
        directly) and the rest searched again."""
        tickets: dict[str, VendorTicket] = {}
        for start in range(0, len(vendor_ids), RECONCILE_LIMIT):
            chunk = list(vendor_ids[start : start + RECONCILE_LIMIT])
            try:
                body = await self._read(partial(self._search_ids, chunk), "searchJql")
            except VendorRejected:
                existing = await self.existing_ticket_ids(chunk)
                chunk = [vendor_id for vendor_id in chunk if vendor_id in existing]
                if not chunk:
                    continue
                body = await self._read(partial(self._search_ids, chunk), "searchJql")
            for issue in body.get("issues") or []:
                ticket = mapping.to_vendor_ticket(issue, site_url=self._site_url)
                tickets[ticket.vendor_id] = ticket
        return tickets

    async def _search_ids(self, vendor_ids: list[str]) -> dict[str, Any]:
        return await self._client.search_jql(
            f"id in ({', '.join(vendor_ids)})",
            fields=mapping.ISSUE_FIELDS,
            max_results=len(vendor_ids),
            reconcile_issues=[int(i) for i in vendor_ids],
        )

    async def search_tickets(self, query: str, *, cursor: str | None, limit: int) -> SearchPage:
        body = await self._read(
            lambda: self._client.search_jql(
                query, fields=mapping.ISSUE_FIELDS, max_results=limit, next_page_token=cursor
            ),
            "searchJql",
        )
        items = [mapping.to_vendor_ticket(issue, site_url=self._site_url) for issue in body.get("issues") or []]
        next_cursor = None if body.get("isLast", True) else body.get("nextPageToken")
        return SearchPage(items=items, next_cursor=next_cursor)

    async def _search_pages(self, jql: str, *, page_size: int) -> AsyncIterator[list[VendorTicket]]:
        async def fetch(cursor: str | None) -> TokenPage[VendorTicket]:
            page = await self.search_tickets(jql, cursor=cursor, limit=page_size)
            return page.items, page.next_cursor

        async for items in token_pages(fetch, operation="searchJql", max_pages=MAX_SEARCH_PAGES):
            yield items

    async def iter_tickets(
        self, *, updated_since: datetime | None, page_size: int
    ) -> AsyncIterator[list[VendorTicket]]:
        """Oldest change first, with nothing skipped: the shared keyset walk (`connectors.walk`) over
        JQL, whose dates are read to the minute in the searching user's time zone. Page tokens are
        never followed (they offset into a list that shifts); a minute holding more than a page is
        walked by issue id (`id > last`). The issues a query asks for again are named in
        `id not in (...)`, so that no page repeats what an earlier one returned."""
        zone = await self._jql_zone()

        def at(moment: datetime) -> str:
            return f'"{moment.astimezone(zone):%Y-%m-%d %H:%M}"'

        def leaving_out(tickets: Sequence[VendorTicket], after: int = 0) -> str:
            ids = sorted({int(t.vendor_id) for t in tickets if int(t.vendor_id) > after})
            return f" AND id not in ({', '.join(map(str, ids))})" if ids else ""

        async def page_of(jql: str, limit: int, *, unless_refused: str | None = None) -> Page[VendorTicket]:
            """`unless_refused` is the same query without `id not in (...)`: Jira refuses a JQL naming
            an issue that no longer exists, and one deleted between two pages must not stop the walk
            (the walk then drops the repeats itself)."""
            try:
                page = await self.search_tickets(jql, cursor=None, limit=min(limit, MAX_FIELDS_PAGE))
            except VendorRejected:
                if unless_refused is None:
                    raise
                log.info("connector.jira.exclusion_refused")
                page = await self.search_tickets(unless_refused, cursor=None, limit=min(limit, MAX_FIELDS_PAGE))
            return page.items, page.next_cursor is not None

        async def since(
            moment: datetime | None, limit: int, excluding: Sequence[VendorTicket] = ()
        ) -> Page[VendorTicket]:
            plain = f"updated >= {at(moment or EPOCH)} {SINCE_ORDER}"
            if not excluding:
                return await page_of(plain, limit)
            jql = f"updated >= {at(moment or EPOCH)}{leaving_out(excluding)} {SINCE_ORDER}"
            return await page_of(jql, limit, unless_refused=plain)

        async def window(
            start: datetime,
            end: datetime,
            after: VendorTicket | None,
            limit: int,
            excluding: Sequence[VendorTicket] = (),
        ) -> Page[VendorTicket]:
            last_id = int(after.vendor_id) if after else 0
            jql = f"updated >= {at(start)} AND updated < {at(end)} AND id > {last_id}"
            plain = f"{jql} ORDER BY id ASC"
            left_out = leaving_out(excluding, last_id)
            if not left_out:
                return await page_of(plain, limit)
            return await page_of(f"{jql}{left_out} ORDER BY id ASC", limit, unless_refused=plain)

        feed = ChangeFeed(
            since=since,
            window=window,
            changed_at=lambda ticket: ticket.updated_at,
            identity=lambda ticket: (ticket.vendor_id, ticket.version),
            resolution=JQL_RESOLUTION,
            excluding=ExcludingQueries(
                since=lambda moment, excluding, limit: since(moment, limit, excluding),
                window=lambda start, end, after, excluding, limit: window(start, end, after, limit, excluding),
            ),
        )
        size = min(page_size, MAX_FIELDS_PAGE)
        async for page in walk_changes(feed, since=updated_since, page_size=size, max_pages=MAX_SEARCH_PAGES):
            yield page

    async def existing_ticket_ids(self, vendor_ids: Sequence[str]) -> set[str]:
        """Asks Jira directly (bulkfetch, 100 a call): the ids among `vendor_ids` whose issue exists.
        A missing or invisible issue is listed in `issueErrors`, not failed."""
        found: set[str] = set()
        for start in range(0, len(vendor_ids), BULK_FETCH_LIMIT):
            chunk = list(vendor_ids[start : start + BULK_FETCH_LIMIT])
            body = await self._read(partial(self._client.bulk_fetch_issues, chunk, fields=["id"]), "bulkFetchIssues")
            found.update(str(issue["id"]) for issue in body.get("issues") or [] if "id" in issue)
        return found & set(vendor_ids)

    async def _jql_zone(self) -> tzinfo:
        """Jira reads JQL dates in the searching user's time zone, which /myself names."""

        async def load() -> dict[str, str]:
            return _time_zone_of(await self._read(self._client.myself, "getCurrentUser"))

        name = (await self._cached("time_zone", load))["zone"]
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            # Minutes off by the zone's offset would skip changes: say so loudly, and read as UTC.
            log.warning("connector.jira.unknown_time_zone", time_zone=name)
            return UTC

    async def iter_ticket_ids(self, *, page_size: int) -> AsyncIterator[list[str]]:
        """Keyset on the issue id (`id > last`), a fresh query a page: ids never move, so no issue
        that exists throughout the walk is missed, whatever changes meanwhile."""
        after = 0
        size = min(page_size, MAX_IDS_PAGE)
        for _ in range(MAX_SEARCH_PAGES):
            jql = f"id > {after} ORDER BY id ASC"
            body = await self._read(partial(self._client.search_jql, jql, fields=["id"], max_results=size), "searchJql")
            ids = [int(issue["id"]) for issue in body.get("issues") or []]
            if ids:
                yield [str(i) for i in ids]
            if not ids or body.get("isLast", True):
                return
            after = ids[-1]

    async def iter_projects(self) -> AsyncIterator[list[VendorProject]]:
        async def fetch(offset: int) -> OffsetPage[VendorProject]:
            page = await self.list_projects(limit=PROJECT_PAGE_SIZE, offset=offset, with_issue_types=False)
            return page.items, page.total is not None and offset + len(page.items) < page.total

        listed: list[VendorProject] = []
        async for projects in offset_pages(fetch, operation="searchProjects", max_pages=MAX_SEARCH_PAGES):
            listed.extend(projects)
            yield projects
        self._listed_projects = listed

    async def iter_users(self) -> AsyncIterator[list[VendorUser]]:
        """The users assignable in any project, each once. (Jira's getAllUsers needs the global
        "Browse users" permission, which a connection's account often lacks.)"""
        seen: set[str] = set()
        async for projects in self._projects_for_users():
            for project in projects:
                for start in range(0, USER_WINDOW, USER_PAGE_SIZE):
                    raw = await self._read(
                        partial(
                            self._client.assignable_users,
                            project.vendor_id,
                            None,
                            USER_PAGE_SIZE,
                            start_at=start,
                        ),
                        "findAssignableUsers",
                    )
                    users = [mapping.to_vendor_user(u) for u in raw]
                    fresh = [u for u in users if u.vendor_id not in seen]
                    seen.update(u.vendor_id for u in fresh)
                    if fresh:
                        yield fresh
                    if len(raw) < USER_PAGE_SIZE:
                        break

    async def _projects_for_users(self) -> AsyncIterator[list[VendorProject]]:
        if self._listed_projects is not None:
            yield self._listed_projects
            return
        async for projects in self.iter_projects():
            yield projects

    async def list_projects(self, *, limit: int, offset: int, with_issue_types: bool) -> ProjectPage:
        body = await self._read(
            lambda: self._client.search_projects(
                start_at=offset, max_results=limit, expand="issueTypes" if with_issue_types else None
            ),
            "searchProjects",
        )
        return ProjectPage(
            items=[mapping.to_vendor_project(p) for p in body.get("values") or []], total=body.get("total")
        )

    async def list_issue_types(self, project_vendor_id: str) -> list[VendorIssueType]:
        types = await self._read(
            lambda: self._client.create_meta_issue_types(project_vendor_id), "getCreateIssueMetaIssueTypes"
        )
        return [mapping.to_vendor_issue_type(t) for t in types]

    async def list_assignable_users(self, project_vendor_id: str, query: str | None, limit: int) -> list[VendorUser]:
        users = await self._read(
            lambda: self._client.assignable_users(project_vendor_id, query, limit), "findAssignableUsers"
        )
        return [mapping.to_vendor_user(u) for u in users]

    async def list_priorities(self) -> list[VendorPriority]:
        priorities = await self._read(self._client.priorities, "getPriorities")
        return [mapping.to_vendor_priority(p) for p in priorities]

    async def list_statuses(self) -> list[VendorStatus]:
        statuses = await self._read(self._client.statuses, "getStatuses")
        return [mapping.to_vendor_status(s) for s in statuses]

    # --- write metadata -----------------------------------------------------------------------

    async def write_metadata(
        self, project_vendor_id: str, *, type_vendor_id: str | None, type_name: str | None, refresh: bool = False
    ) -> WriteMetadata:
        """createmeta of the project and issue type (the type's id found by name when not given)."""
        type_id = type_vendor_id or await self._issue_type_id(project_vendor_id, type_name or "")

        async def load() -> WriteMetadata:
            try:
                fields = await self._read(
                    lambda: self._client.create_meta_fields(project_vendor_id, type_id),
                    "getCreateIssueMetaIssueTypeId",
                )
            except VendorRejected as exc:  # Jira answers 400 for a type the project does not have
                raise VendorNotFound(exc.message, status_code=exc.status_code) from exc
            return custom.write_metadata(fields)

        key = ("write_metadata", f"{project_vendor_id}\x1f{type_id}")
        return await self._cache.cached(key, load, ttl_seconds=WRITE_METADATA_TTL_SECONDS, refresh=refresh)

    async def edit_metadata(self, vendor_ref: str, *, refresh: bool = False) -> WriteMetadata:
        """editmeta of the issue: its edit screen, which may differ from issue to issue."""

        async def load() -> WriteMetadata:
            return custom.edit_metadata(await self._read(lambda: self._client.edit_meta(vendor_ref), "getIssue"))

        key = ("edit_metadata", vendor_ref)
        return await self._cache.cached(key, load, ttl_seconds=WRITE_METADATA_TTL_SECONDS, refresh=refresh)

    async def _issue_type_id(self, project_vendor_id: str, type_name: str) -> str:
        """The id of the project's issue type named `type_name`, from types cached like the metadata."""

        async def load() -> list[VendorIssueType]:
            return await self.list_issue_types(project_vendor_id)

        key = ("write_metadata_types", project_vendor_id)
        types = await self._cache.cached(key, load, ttl_seconds=WRITE_METADATA_TTL_SECONDS)
        found = next((t for t in types if t.name.casefold() == type_name.casefold()), None)
        if found is None:
            raise VendorNotFound(f"Jira project {project_vendor_id} has no issue type {type_name!r}.")
        return found.vendor_id

    # --- update -----------------------------------------------------------------------------

    async def update_ticket(
        self, vendor_ref: str, changes: TicketChanges, *, expected: TicketBaseline | None
    ) -> VendorTicket:
        """With `expected`, Jira's `updated` must still be `expected.version`: Jira has no
        conditional edit, so this is a best-effort check (read, compare, then write)."""
        current = await self.get_ticket(vendor_ref)
        if expected is not None and current.version != expected.version:
            raise VersionConflict("The ticket changed in Jira since that version.", current_version=current.version)
        body = mapping.edit_body(changes)
        if body:
            try:
                await self._write(lambda: self._client.edit_issue(current.key, body), "editIssue")
            except VendorRejected as exc:
                named = {custom.UNIFIED_FIELDS.get(name, name): text for name, text in exc.field_errors.items()}
                raise VendorRejected(exc.message, status_code=exc.status_code, field_errors=named) from exc
        if changes.target_status and (current.status_name or "").lower() != changes.target_status.lower():
            await self._transition_to(current, changes.target_status)
        return await self.get_ticket(current.vendor_id)

    async def update_tickets(self, refs: Sequence[TicketRef], changes: TicketChanges) -> list[ItemOutcome]:
        errors: dict[str, str] = {}
        if changes.target_status:
            for start in range(0, len(refs), BULK_TRANSITION_LIMIT):
                chunk = list(refs[start : start + BULK_TRANSITION_LIMIT])
                errors.update(await self._bulk_transition(chunk, changes.target_status))
        editable = [ref for ref in refs if ref.vendor_id not in errors]
        priority_id = await self._priority_id(changes.priority_name) if changes.priority_name else None
        actions, fields = mapping.bulk_edit_input(changes, priority_id)
        if actions and editable:
            errors.update(await self._bulk_edit(editable, actions, fields))
        if changes.custom_fields:
            # Bulk edit types its input per field kind and covers few custom types: one edit each.
            errors.update(await self._edit_custom([r for r in editable if r.vendor_id not in errors], changes))
        fresh = await self.get_tickets([ref.vendor_id for ref in refs if ref.vendor_id not in errors])
        return [
            ItemOutcome(key=ref.vendor_id, error=errors[ref.vendor_id])
            if ref.vendor_id in errors
            else ItemOutcome(
                key=ref.vendor_id,
                ticket=fresh.get(ref.vendor_id),
                error=None if ref.vendor_id in fresh else "Jira did not return the ticket",
            )
            for ref in refs
        ]

    async def _edit_custom(self, refs: list[TicketRef], changes: TicketChanges) -> dict[str, str]:
        body = {"fields": custom.wire_values(changes.custom_fields)}
        errors: dict[str, str] = {}
        for ref in refs:
            try:
                await self._write(partial(self._client.edit_issue, ref.key, body), "editIssue")
            except VendorRejected as exc:
                errors[ref.vendor_id] = exc.message
        return errors

    async def _bulk_transition(self, refs: list[TicketRef], target: str) -> dict[str, str]:
        """Moves every ref (at most BULK_TRANSITION_LIMIT) to `target`, the issues of one status per
        round (`next_cohort`), with one getAvailableTransitions walk (a page per 50 workflows) and one
        submitBulkTransition a round: Jira lists only the transitions common to all the issues of a
        workflow, so issues of one workflow in different statuses share none. Returns failures."""
        goal = target.lower()
        by_key = {ref.key: ref for ref in refs}
        at = {ref.key: (ref.status_name or "").lower() for ref in refs if (ref.status_name or "").lower() != goal}
        visited = {key: {status} for key, status in at.items()}
        errors: dict[str, str] = {}
        arrivals: dict[str, int] = {}

        async def reread(keys: list[str]) -> None:
            # Our statuses are the last we saw: Jira's may have changed since (a person, an interrupted run).
            current = await self.get_tickets([by_key[key].vendor_id for key in keys])
            for key in keys:
                ticket = current.get(by_key[key].vendor_id)
                status = (ticket.status_name or "").lower() if ticket else ""
                if ticket is None:
                    errors[by_key[key].vendor_id] = "Jira did not return the ticket"
                    del at[key]
                elif status == goal:
                    del at[key]
                else:
                    at[key] = status
                    visited[key].add(status)

        unknown = [key for key, status in at.items() if not status]
        if unknown:
            await reread(unknown)
        refreshed = False
        for _ in range(MAX_BULK_ROUNDS):
            if not at:
                break
            # Categories only order several statuses: a batch in one status needs no getStatuses.
            categories = await self._status_categories() if len(set(at.values())) > 1 else {}
            cohort = next_cohort(at, goal, categories, arrivals)
            keys = sorted(key for key, status in at.items() if status == cohort)
            inputs: list[dict[str, Any]] = []
            moving: dict[str, str] = {}
            stuck = set(keys)
            for group in await self._available_transitions(keys):
                members = [key for key in group.get("issues") or [] if key in stuck]
                options = [
                    Edge(str(t["transitionId"]), str(t["to"]["statusName"]), None)
                    for t in group.get("transitions") or []
                ]
                direct = next((e for e in options if e.to_status.lower() == goal), None)
                seen = set().union(*(visited[key] for key in members))
                choice = direct or await self._step_towards(options, target, seen)
                if choice is None or not members:
                    continue
                inputs.append({"selectedIssueIdsOrKeys": members, "transitionId": choice.transition_id})
                moving.update(dict.fromkeys(members, choice.to_status.lower()))
                stuck.difference_update(members)
            arrivals = {}
            if inputs:
                task_id = await self._write(
                    partial(self._client.submit_bulk_transition, inputs), "submitBulkTransition"
                )
                failed = await self._follow_task(task_id)
                for key, to_status in moving.items():
                    vendor_id = by_key[key].vendor_id
                    if vendor_id in failed:
                        errors[vendor_id] = failed[vendor_id]
                        del at[key]
                    elif to_status == goal:
                        del at[key]
                    else:
                        at[key] = to_status
                        visited[key].add(to_status)
                        arrivals[to_status] = arrivals.get(to_status, 0) + 1
            if stuck and refreshed:
                for key in sorted(stuck):
                    errors[by_key[key].vendor_id] = f"No transition leads to status {target!r}."
                    del at[key]
            elif stuck:
                # No way on for the issues we believed in `cohort`: perhaps some are elsewhere (then the
                # group's common transitions are not theirs) or already there. Read every pending one once.
                refreshed = True
                await reread(sorted(at))
        if at:
            await reread(sorted(at))
            for key in at:
                errors.setdefault(by_key[key].vendor_id, f"Status {target!r} could not be reached.")
        return errors

    async def _available_transitions(self, keys: list[str]) -> list[dict[str, Any]]:
        """Every workflow group getAvailableTransitions answers for `keys`, following its cursor."""

        async def fetch(cursor: str | None) -> TokenPage[dict[str, Any]]:
            body = await self._read(
                partial(self._client.get_bulk_transitions, keys, starting_after=cursor), "getAvailableTransitions"
            )
            groups: list[dict[str, Any]] = body.get("availableTransitions") or []
            # An empty page ends the walk, whatever cursor it carries.
            return groups, body.get("startingAfter") if groups else None

        pages = token_pages(fetch, operation="getAvailableTransitions", max_pages=MAX_TRANSITION_PAGES)
        return [group async for page in pages for group in page]

    async def _step_towards(self, options: list[Edge], target: str, seen: set[str]) -> Edge | None:
        """A first hop when the target is not one transition away: towards the target's status
        category, never back to a status these issues already passed through."""
        categories = await self._status_categories()
        if target.lower() not in categories:
            return None
        graph = WorkflowGraph(categories=categories)
        fresh = [
            Edge(e.transition_id, e.to_status, categories.get(e.to_status.lower()))
            for e in options
            if e.to_status.lower() not in seen
        ]
        if not fresh or len(seen) >= MAX_HOPS:
            return None
        return graph.next_edge("", target, fresh, seen)

    async def _bulk_edit(self, refs: list[TicketRef], actions: list[str], fields: dict[str, Any]) -> dict[str, str]:
        keys = [ref.key for ref in refs]
        task_id = await self._write(lambda: self._client.submit_bulk_edit(keys, actions, fields), "submitBulkEdit")
        return await self._follow_task(task_id)

    async def _follow_task(self, task_id: str) -> dict[str, str]:
        """Polls a bulk task to its end; returns {issue id: reason} for the issues that failed."""
        deadline = time.monotonic() + BULK_TASK_TIMEOUT_SECONDS
        delay = 0.02
        while True:
            progress = await self._read(lambda: self._client.get_bulk_progress(task_id), "getBulkOperationProgress")
            status = progress.get("status")
            if status == "COMPLETE":
                return {
                    str(issue_id): "; ".join(reasons) or "Jira could not update the issue"
                    for issue_id, reasons in (progress.get("failedAccessibleIssues") or {}).items()
                }
            if status in ("FAILED", "DEAD", "CANCELLED", "CANCEL_REQUESTED"):
                raise VendorRejected(f"Jira bulk task {task_id} ended {status}.")
            if time.monotonic() > deadline:
                raise VendorOutcomeUnknown(f"Jira bulk task {task_id} did not finish in time.")
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def _transition_to(self, ticket: VendorTicket, target: str) -> None:
        """Single-issue transitions along the workflow until `target` is reached."""
        categories = await self._status_categories()
        if target.lower() not in categories:
            raise VendorRejected(f"Jira has no status named {target!r}.", field_errors={"status": target})
        graph = self._workflow_graph(f"{ticket.project_vendor_id}:{ticket.type_vendor_id}")
        graph.categories.update(categories)
        current = ticket.status_name or ""
        visited = {current.lower()}
        for _ in range(MAX_HOPS):
            if current.lower() == target.lower():
                return
            raw = await self._read(lambda: self._client.get_transitions(ticket.key), "getTransitions")
            options = [
                Edge(str(t["id"]), str(t["to"]["name"]), (t["to"].get("statusCategory") or {}).get("key")) for t in raw
            ]
            graph.learn(current, options)
            edge = graph.next_edge(current, target, options, visited)
            if edge is None:
                break
            await self._write(partial(self._client.do_transition, ticket.key, edge.transition_id), "doTransition")
            current = edge.to_status
            visited.add(current.lower())
        if current.lower() != target.lower():
            raise VendorRejected(f"No path leads from status {ticket.status_name!r} to {target!r}.")

    # --- metadata and plumbing ----------------------------------------------------------------

    def _workflow_graph(self, scope: str) -> WorkflowGraph:
        key = ("workflow", scope)
        entry = self._cache.entries.get(key)
        if entry is None:
            entry = (time.monotonic(), WorkflowGraph())
            self._cache.entries[key] = entry
        graph: WorkflowGraph = entry[1]
        return graph

    async def _status_categories(self) -> dict[str, str]:
        async def load() -> dict[str, str]:
            return {status.name.lower(): str(status.category) for status in await self.list_statuses()}

        return await self._cached("statuses", load)

    async def _priority_id(self, name: str) -> str:
        async def load() -> dict[str, str]:
            return {priority.name.lower(): priority.vendor_id for priority in await self.list_priorities()}

        ids = await self._cached("priorities", load)
        if name.lower() not in ids:
            raise VendorRejected(f"Jira has no priority named {name!r}.", field_errors={"priority": name})
        return ids[name.lower()]

    async def _cached(self, name: str, load: Callable[[], Awaitable[dict[str, str]]]) -> dict[str, str]:
        """Site metadata from the connection's cache; concurrent misses share one load."""
        return await self._cache.cached(("metadata", name), load, ttl_seconds=METADATA_TTL_SECONDS)

    async def _read(self, call: Callable[[], Awaitable[T]], operation: str) -> T:
        return await with_retries(call, policy=self._policy, operation=operation, idempotent=True)

    async def _write(self, call: Callable[[], Awaitable[T]], operation: str) -> T:
        return await with_retries(call, policy=self._policy, operation=operation, idempotent=False)


def _time_zone_of(me: dict[str, Any]) -> dict[str, str]:
    """The cached form of the JQL time zone /myself names (Jira answers UTC when none is set)."""
    return {"zone": str(me.get("timeZone") or "UTC")}
