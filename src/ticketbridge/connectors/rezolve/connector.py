"""The Rezolve connector: the connector protocol on top of `RezolveClient`.

Rezolve has no bulk API, so bulk creates and updates run as single calls, at most
`MAX_CONCURRENT_ITEMS` at a time per connector. Writes are in `writes.py` (exactly-once create,
conflict-aware update); reads, passthrough listings and sync iteration are here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from ticketbridge.connectors.base import WRITE_METADATA_TTL_SECONDS, Capabilities, MetadataCache, ProjectPage
from ticketbridge.connectors.errors import (
    VendorError,
    VendorNotFound,
    VendorOutcomeUnknown,
    VendorRejected,
    VersionConflict,
)
from ticketbridge.connectors.http import RetryPolicy, with_retries
from ticketbridge.connectors.paging import OffsetPage, offset_pages
from ticketbridge.connectors.rezolve import fields as custom
from ticketbridge.connectors.rezolve import mapping
from ticketbridge.connectors.rezolve.client import MAX_PAGE_SIZE, RezolveClient
from ticketbridge.connectors.rezolve.memory import ConnectionMemory
from ticketbridge.connectors.rezolve.query import list_body
from ticketbridge.connectors.rezolve.schema import TicketTypeSchema
from ticketbridge.connectors.rezolve.writes import TicketWriter
from ticketbridge.connectors.walk import ChangeFeed, Page, walk_changes
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

T = TypeVar("T")
Json = dict[str, Any]
#: Items of a bulk operation in flight at once. Rezolve publishes no rate limits; five concurrent
#: single calls keep a bulk job quick without looking like a flood to one tenant's API.
MAX_CONCURRENT_ITEMS = 5
#: Hard cap on pages walked by one iteration (100 a page: a million tickets).
MAX_PAGES = 10_000
#: Rezolve's timestamps are to the millisecond (`2025-07-10T12:34:56.789Z`).
TIMESTAMP_RESOLUTION = timedelta(milliseconds=1)


class RezolveConnector:
    vendor = Vendor.REZOLVE
    #: Rezolve's list reads its own writes (its reference documents no index lag), so a marker search
    #: right after a create sees it; `writes.py` reconciles inline for the same reason.
    marker_settle_seconds = 0.0

    def __init__(
        self,
        *,
        client: RezolveClient,
        cache: MetadataCache,
        capabilities: Capabilities,
        policy: RetryPolicy | None = None,
        max_concurrent_items: int = MAX_CONCURRENT_ITEMS,
    ) -> None:
        self.capabilities = capabilities
        self._client = client
        self._policy = policy or RetryPolicy()
        self._cache = cache
        self._memory = ConnectionMemory(cache)
        self._slots = asyncio.Semaphore(max_concurrent_items)
        self._writer = TicketWriter(
            client=client,
            memory=self._memory,
            policy=self._policy,
            fetch=self._fetch,
            find_by_markers=self._find_by_markers,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check_health(self) -> None:
        """Fetches a token and the tenant's metadata: bad credentials, an unknown realm or a tenant
        the token does not belong to raise VendorAuthError."""
        await self._read(self._client.tenant_meta, "getTenantMeta")

    # --- writes -------------------------------------------------------------------------------

    async def create_tickets(
        self, items: Sequence[CreateItem], *, reconcile: Collection[str] = (), provisional_ok: bool = False
    ) -> list[ItemOutcome]:
        """Rezolve answers a create with the whole ticket: never provisional (`provisional_ok` unused)."""
        schemas = await self._schemas()
        markers = [item.marker for item in items if item.key in reconcile]
        adopted = await self._find_by_markers(markers) if markers else {}

        async def create(item: CreateItem) -> VendorTicket:
            async with self._slots:
                raw = adopted.get(item.marker)
                if raw is None:
                    schema = _schema_for(schemas, item)
                    parent = await self._object_id(item.parent_vendor_id) if item.parent_vendor_id else None
                    raw = await self._writer.create(item, schema, parent_object_id=parent)
                return await self._to_ticket(raw)

        results = await asyncio.gather(*(create(item) for item in items), return_exceptions=True)
        outcomes: list[ItemOutcome] = []
        failure: VendorError | None = None
        maybe_written = False
        for item, result in zip(items, results, strict=True):
            if isinstance(result, VendorOutcomeUnknown):
                maybe_written = True
                outcomes.append(ItemOutcome(key=item.key, error=result.message, unknown=True))
            elif isinstance(result, VendorRejected):
                refusals = tuple(FieldRefusal(field=k, message=v) for k, v in result.field_errors.items())
                outcomes.append(ItemOutcome(key=item.key, error=result.message, field_errors=refusals))
            elif isinstance(result, VendorError):
                failure = failure or result
                # Not written itself, but reported with the batch's other outcomes, to be retried.
                outcomes.append(ItemOutcome(key=item.key, error=result.message, unknown=True))
            elif isinstance(result, BaseException):
                raise result
            else:
                maybe_written = True
                outcomes.append(ItemOutcome(key=item.key, ticket=result))
        if failure is not None and not maybe_written:
            raise failure  # nothing can have been written: the whole batch waits
        return outcomes

    async def update_ticket(
        self, vendor_ref: str, changes: TicketChanges, *, expected: TicketBaseline | None
    ) -> VendorTicket:
        """Writes only the fields that change. With `expected` older than the ticket, the update goes
        ahead only if none of the fields it writes differ from `expected`'s values (the stored
        version the caller saw); otherwise VersionConflict names them. The same rule settles an
        ETAG_MISMATCH, and a write whose answer was lost is checked by re-reading."""
        current = await self._fetch(vendor_ref)
        schema = await self._schema(str(current["ticketTypeId"]))
        final = await self._writer.update(current, schema, changes, expected=expected)
        return await self._to_ticket(final)

    async def update_tickets(self, refs: Sequence[TicketRef], changes: TicketChanges) -> list[ItemOutcome]:
        await self._schemas()

        async def update(ref: TicketRef) -> VendorTicket:
            async with self._slots:
                return await self.update_ticket(ref.key or ref.vendor_id, changes, expected=None)

        return await self._each(refs, update, key=lambda ref: ref.vendor_id)

    async def _each(
        self, items: Sequence[T], run: Callable[[T], Awaitable[VendorTicket]], key: Callable[[T], str]
    ) -> list[ItemOutcome]:
        """Runs every item to its end, concurrently. A rejected item fails alone; an error that
        concerns the connection (retriable, auth) is raised once every item has finished, and the
        caller retries the batch (creates with `reconcile`, so nothing is created twice)."""
        results = await asyncio.gather(*(run(item) for item in items), return_exceptions=True)
        outcomes: list[ItemOutcome] = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, (VendorRejected, VersionConflict)):
                outcomes.append(ItemOutcome(key=key(item), error=result.message))
            elif isinstance(result, BaseException):
                raise result
            else:
                outcomes.append(ItemOutcome(key=key(item), ticket=result))
        return outcomes

    # --- write metadata -----------------------------------------------------------------------

    async def write_metadata(
        self, project_vendor_id: str, *, type_vendor_id: str | None, type_name: str | None, refresh: bool = False
    ) -> WriteMetadata:
        """The ticket type's fields (every team creates with the same types; the team must exist)."""
        teams = {str(team["key"]) for team in await self._team_list()}
        if project_vendor_id not in teams:
            raise VendorNotFound(f"Team not found ({project_vendor_id})")
        probe = CreateItem(
            key="",
            marker="",
            name="",
            project_vendor_id=project_vendor_id,
            type_vendor_id=type_vendor_id,
            type_name=type_name,
            description=None,
            priority_name=None,
            assignee_vendor_id=None,
            parent_vendor_id=None,
            target_status=None,
        )
        try:
            schema = _schema_for(await self._schemas(), probe)
        except VendorRejected as exc:
            raise VendorNotFound(exc.message) from exc
        return await self._type_metadata(schema.id, refresh=refresh)

    async def edit_metadata(self, vendor_ref: str, *, refresh: bool = False) -> WriteMetadata:
        """Rezolve edits take the same fields as creates: the ticket's type's; and a status change, the
        fields its workflow transition requires, judged against the ticket as read now."""
        raw = await self._fetch(vendor_ref)
        type_id = str(raw["ticketTypeId"])
        meta = await self._type_metadata(type_id, refresh=refresh)
        schema = await self._schema(type_id)
        return meta.model_copy(update={"transitions": custom.transition_fields(schema, raw.get("data") or {})})

    async def _type_metadata(self, type_id: str, *, refresh: bool) -> WriteMetadata:
        async def load() -> WriteMetadata:
            schemas = await self._schemas(refresh=True)  # the types as configured now
            if type_id not in schemas:
                raise VendorNotFound(f"Ticket type not found ({type_id})")
            return custom.write_metadata(schemas[type_id])

        key = ("rezolve.write_metadata", type_id)
        return await self._cache.cached(key, load, ttl_seconds=WRITE_METADATA_TTL_SECONDS, refresh=refresh)

    # --- reads --------------------------------------------------------------------------------

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        """By internal id (UUID) or display ID; raises VendorNotFound."""
        return await self._to_ticket(await self._fetch(vendor_ref))

    async def _fetch(self, vendor_ref: str) -> Json:
        """The ticket's JSON. Rezolve's GET takes only the display ID, so an internal id is looked up
        once with a list filter and remembered."""
        object_id = self._memory.object_id(vendor_ref) if _is_uuid(vendor_ref) else vendor_ref
        if object_id is None:
            raws, _ = await self._list_page({"filter": _where("id", "EQ", vendor_ref)}, offset=0, limit=1)
            if not raws:
                raise VendorNotFound(f"Ticket not found ({vendor_ref})")
            raw = raws[0]
        else:
            raw = await self._read(lambda: self._client.get_ticket(object_id), "getTicket")
        self._memory.remember(raw)
        return raw

    async def _object_id(self, vendor_ref: str) -> str:
        return mapping.object_id_of(await self._fetch(vendor_ref)) if _is_uuid(vendor_ref) else vendor_ref

    async def search_tickets(self, query: str, *, cursor: str | None, limit: int) -> SearchPage:
        """`query` follows the language in `query.py`; the cursor is an offset."""
        if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
            raise VendorRejected(f"Invalid cursor {cursor!r}.", field_errors={"cursor": cursor})
        offset = int(cursor or 0)
        body = list_body(query, (await self._schemas()).values())
        raws, has_more = await self._list_page(body, offset=offset, limit=min(limit, MAX_PAGE_SIZE))
        items = [await self._to_ticket(raw) for raw in raws]
        return SearchPage(items=items, next_cursor=str(offset + len(raws)) if has_more and raws else None)

    async def iter_tickets(
        self, *, updated_since: datetime | None, page_size: int
    ) -> AsyncIterator[list[VendorTicket]]:
        """Oldest change first, with nothing skipped: the shared keyset walk over `updatedAt`."""
        async for raws in self._walk("updatedAt", since=updated_since, page_size=page_size):
            yield [await self._to_ticket(raw) for raw in raws]

    async def iter_ticket_ids(self, *, page_size: int) -> AsyncIterator[list[str]]:
        """The same keyset walk over `createdAt`, which never changes: a ticket deleted or changed
        meanwhile moves no other (offsets would shift, and hide a live ticket)."""
        async for raws in self._walk("createdAt", since=None, page_size=page_size):
            yield [str(raw["id"]) for raw in raws]

    async def get_tickets(self, vendor_ids: Sequence[str]) -> dict[str, VendorTicket]:
        """A list filtered on `id IN`, 100 a call."""
        tickets: dict[str, VendorTicket] = {}
        for start in range(0, len(vendor_ids), MAX_PAGE_SIZE):
            chunk = list(vendor_ids[start : start + MAX_PAGE_SIZE])
            raws, _ = await self._list_page({"filter": _where("id", "IN", chunk)}, offset=0, limit=len(chunk))
            for raw in raws:
                ticket = await self._to_ticket(raw)
                tickets[ticket.vendor_id] = ticket
        return tickets

    async def existing_ticket_ids(self, vendor_ids: Sequence[str]) -> set[str]:
        """The ids among `vendor_ids` of tickets that exist now: a list filtered on `id IN`, 100 a call."""
        found: set[str] = set()
        for start in range(0, len(vendor_ids), MAX_PAGE_SIZE):
            chunk = list(vendor_ids[start : start + MAX_PAGE_SIZE])
            raws, _ = await self._list_page(
                {"filter": _where("id", "IN", chunk)}, offset=0, limit=min(len(chunk), MAX_PAGE_SIZE)
            )
            found.update(str(raw["id"]) for raw in raws)
        return found & set(vendor_ids)

    async def _walk(self, column: str, *, since: datetime | None, page_size: int) -> AsyncIterator[list[Json]]:
        """`connectors.walk` over `column` (a time column), ties walked by display ID (`object_id`),
        which Rezolve also breaks ties with; every query starts at offset 0."""
        limit = min(page_size, MAX_PAGE_SIZE)

        async def changed_since(moment: datetime | None, size: int) -> Page[Json]:
            body: Json = {"sort": column, "searchOrder": "ASC"}
            if moment is not None:
                body["filter"] = _where(column, "GE", moment.isoformat())
            return await self._list_page(body, offset=0, limit=size)

        async def window(start: datetime, end: datetime, after: Json | None, size: int) -> Page[Json]:
            conditions = [
                {"column": column, "op": "GE", "operand": start.isoformat()},
                {"column": column, "op": "LT", "operand": end.isoformat()},
            ]
            if after is not None:
                conditions.append({"column": "object_id", "op": "GT", "operand": mapping.object_id_of(after)})
            body = {"sort": "object_id", "searchOrder": "ASC", "filter": {"op": "AND", "operand": conditions}}
            return await self._list_page(body, offset=0, limit=size)

        feed = ChangeFeed(
            since=changed_since,
            window=window,
            changed_at=lambda raw: _moment(raw.get(column)),
            identity=lambda raw: (str(raw["id"]), str(raw.get("etag"))),
            resolution=TIMESTAMP_RESOLUTION,
        )
        async for raws in walk_changes(feed, since=since, page_size=limit, max_pages=MAX_PAGES):
            yield raws

    async def _pages(self, body: Json, page_size: int) -> AsyncIterator[list[Json]]:
        """Offset paging (`connectors.paging`, with its hard cap). Offsets shift when tickets change
        during the walk, so a ticket may come twice; each is yielded once."""
        seen: set[str] = set()

        async def fetch(offset: int) -> OffsetPage[Json]:
            return await self._list_page(body, offset=offset, limit=min(page_size, MAX_PAGE_SIZE))

        async for raws in offset_pages(fetch, operation="listTickets", max_pages=MAX_PAGES):
            fresh = [raw for raw in raws if str(raw["id"]) not in seen]
            seen.update(str(raw["id"]) for raw in fresh)
            if fresh:
                yield fresh

    async def _list_page(self, body: Json, *, offset: int, limit: int) -> tuple[list[Json], bool]:
        answer = await self._read(
            lambda: self._client.list_tickets({**body, "top": limit, "offset": offset}), "listTickets"
        )
        data = answer.get("data") or {}
        raws: list[Json] = data.get("tickets") or data.get("rows") or []
        for raw in raws:
            self._memory.remember(raw)
        pagination = data.get("pagination") or {}
        total = pagination.get("total", data.get("count", data.get("totalCount")))
        has_more = bool(pagination.get("hasMore", total is not None and offset + len(raws) < int(total)))
        return raws, has_more

    async def _find_by_markers(self, markers: list[str]) -> dict[str, Json]:
        """Tickets carrying any of `markers`, oldest first wins if a marker was ever duplicated."""
        schemas = await self._schemas()
        columns = sorted({spec.name for schema in schemas.values() if (spec := schema.marker_field)})
        found: dict[str, Json] = {}
        wanted = set(markers)
        for start in range(0, len(markers), MAX_PAGE_SIZE):
            chunk = markers[start : start + MAX_PAGE_SIZE]
            conditions = [{"column": column, "op": "IN", "operand": chunk} for column in columns]
            body = {"sort": "createdAt", "searchOrder": "ASC", "filter": {"op": "OR", "operand": conditions}}
            async for raws in self._pages(body, MAX_PAGE_SIZE):
                for raw in raws:
                    schema = await self._schema(str(raw["ticketTypeId"]))
                    for marker in mapping.marker_of(raw, schema):
                        if marker in wanted:
                            found.setdefault(marker, raw)
        return found

    # --- passthrough ----------------------------------------------------------------------------

    async def list_projects(self, *, limit: int, offset: int, with_issue_types: bool) -> ProjectPage:
        """Teams. Ticket types are tenant-wide in Rezolve, so `with_issue_types` changes nothing."""
        teams = await self._team_list()
        return ProjectPage(
            items=[mapping.to_vendor_project(team) for team in teams[offset : offset + limit]],
            total=len(teams),
        )

    async def list_issue_types(self, project_vendor_id: str) -> list[VendorIssueType]:
        """Ticket types; every team can use every type."""
        return [mapping.to_vendor_issue_type(schema) for schema in (await self._schemas()).values()]

    async def list_assignable_users(self, project_vendor_id: str, query: str | None, limit: int) -> list[VendorUser]:
        """Agents (user/list?type=agent) of the team whose name, username or email contains `query`."""
        body = await self._read(lambda: self._client.list_users(catalog="agent", team=project_vendor_id), "listUsers")
        needle = (query or "").casefold()
        users = [user for user in (body.get("data") or {}).get("users") or [] if needle in _user_text(user)]
        return [mapping.to_vendor_user(user) for user in users[:limit]]

    async def iter_projects(self) -> AsyncIterator[list[VendorProject]]:
        yield [mapping.to_vendor_project(team) for team in await self._team_list()]

    async def iter_users(self) -> AsyncIterator[list[VendorUser]]:
        # user/list is not paged: one answer holds every user.
        body = await self._read(lambda: self._client.list_users(catalog="user"), "listUsers")
        yield [mapping.to_vendor_user(user) for user in (body.get("data") or {}).get("users") or []]

    async def list_priorities(self) -> list[VendorPriority]:
        """The ticket types' priority options. The types are fetched again, not taken from the metadata
        cache (which the fetch refreshes)."""
        return mapping.to_vendor_priorities((await self._schemas(refresh=True)).values())

    async def list_statuses(self) -> list[VendorStatus]:
        """The ticket types' workflow statuses, fetched again like `list_priorities`. Not tenant meta's
        list, which does not say which status is initial: from the workflows, categories match the
        ones tickets report."""
        return mapping.to_vendor_statuses((await self._schemas(refresh=True)).values())

    # --- metadata and plumbing --------------------------------------------------------------------

    async def _to_ticket(self, raw: Json) -> VendorTicket:
        schema = await self._schema(str(raw["ticketTypeId"]))
        teams = {str(team["key"]): str(team.get("name") or team["key"]) for team in await self._team_list()}
        return mapping.to_vendor_ticket(raw, schema, teams)

    async def _schemas(self, *, refresh: bool = False) -> dict[str, TicketTypeSchema]:
        async def page(skip: int) -> OffsetPage[Json]:
            body = await self._read(
                partial(self._client.list_ticket_types, top=MAX_PAGE_SIZE, skip=skip), "listTicketTypes"
            )
            data = body.get("data") or {}
            raws: list[Json] = data.get("value") or []
            return raws, skip + len(raws) < int(data.get("@odata.count") or 0)

        async def load() -> dict[str, TicketTypeSchema]:
            schemas: dict[str, TicketTypeSchema] = {}
            async for raws in offset_pages(page, operation="listTicketTypes", max_pages=MAX_PAGES):
                schemas.update((str(raw["id"]), TicketTypeSchema.from_json(raw)) for raw in raws)
            return schemas

        return await self._memory.cached("ticket_types", load, refresh=refresh)

    async def _schema(self, type_id: str) -> TicketTypeSchema:
        schemas = await self._schemas()
        if type_id not in schemas:
            schemas = await self._schemas(refresh=True)  # a type created since the cache was filled
        if type_id not in schemas:
            raise VendorNotFound(f"Ticket type not found ({type_id})")
        return schemas[type_id]

    async def _team_list(self) -> list[Json]:
        async def load() -> list[Json]:
            body = await self._read(self._client.tenant_meta, "getTenantMeta")
            teams: list[Json] = (body.get("data") or {}).get("teams") or []
            return teams

        return await self._memory.cached("teams", load)

    async def _read(self, call: Callable[[], Awaitable[T]], operation: str) -> T:
        return await with_retries(call, policy=self._policy, operation=operation, idempotent=True)


def _schema_for(schemas: dict[str, TicketTypeSchema], item: CreateItem) -> TicketTypeSchema:
    if item.type_vendor_id and item.type_vendor_id in schemas:
        return schemas[item.type_vendor_id]
    by_name = {schema.name.casefold(): schema for schema in schemas.values()}
    if item.type_name and item.type_name.casefold() in by_name:
        return by_name[item.type_name.casefold()]
    named = item.type_vendor_id or item.type_name
    raise VendorRejected(f"Rezolve has no ticket type {named!r}.", field_errors={"type": str(named)})


def _user_text(user: Json) -> str:
    return " ".join(str(user.get(key) or "") for key in ("firstName", "lastName", "username", "email")).casefold()


def _moment(value: Any) -> datetime | None:
    """A walked ticket's time; one the walk cannot read counts as the epoch (it never stops a walk)."""
    try:
        return mapping.parse_timestamp(value)
    except ValueError:
        return None


def _where(column: str, op: str, operand: Any) -> Json:
    return {"op": "AND", "operand": [{"column": column, "op": op, "operand": operand}]}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
