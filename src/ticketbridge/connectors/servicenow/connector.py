"""The ServiceNow connector: the connector protocol on top of the Table API's `incident` table.

Projects are assignment groups (sys_user_group), users are sys_user, issue types are incident
categories, statuses and priorities are the sys_choice rows of incident.state and incident.priority
(custom ones included). Writes are in `writes.py`; field mapping in `mapping.py`.

Exactly once: the marker goes into `correlation_id` (or the connection's `marker_field`); a create
in `reconcile` is first looked for with `{marker_field}IN...`. ServiceNow reads its own writes (no
search index in between), so `marker_settle_seconds` is 0: a marker query right after a create
sees it.

If-Match: an update with `expected` reads the incident and refuses with VersionConflict when its
`sys_mod_count` (the version we report) is no longer `expected.version`. ServiceNow has no
conditional write, so a race window remains: a change that lands between that read and our PATCH
is not detected before we write. The PATCH writes only the fields of the request, so such a change
to other fields survives; one to the same fields is overwritten. We notice it afterwards (the
answer's sys_mod_count is more than one past what we read) and log it, but cannot undo it.

Resolving or closing needs close_code and close_notes, putting On Hold a hold_reason (ServiceNow's
data policies); our model carries neither, so they come from the connection's configuration, and
without it the write is refused before any vendor call, naming what is missing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from ticketbridge.connectors.base import WRITE_METADATA_TTL_SECONDS, Capabilities, MetadataCache, ProjectPage
from ticketbridge.connectors.errors import VendorNotFound, VendorRejected, VersionConflict
from ticketbridge.connectors.http import RetryPolicy, with_retries
from ticketbridge.connectors.paging import OffsetPage, offset_pages
from ticketbridge.connectors.paths import KeyKind, checked
from ticketbridge.connectors.servicenow import fields as custom
from ticketbridge.connectors.servicenow import mapping
from ticketbridge.connectors.servicenow.client import SYS_ID, Records, ServiceNowClient
from ticketbridge.connectors.servicenow.mapping import TABLE, Choices, CloseDefaults
from ticketbridge.connectors.servicenow.writes import MAX_CONCURRENT_ITEMS, Creator, update
from ticketbridge.connectors.walk import ChangeFeed, Page, WalkStalled, walk_changes
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.fields import WriteMetadata
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

log = get_logger("ticketbridge.connectors.servicenow")
T = TypeVar("T")
Json = dict[str, Any]
METADATA_TTL_SECONDS = 600.0
#: A marker field found in sys_dictionary stays valid as long as the connection's cache.
FOREVER_SECONDS = float("inf")
#: Rows a read asks for at most (the Table API's default limit is 10,000; pages stay small).
MAX_PAGE_SIZE = 1000
#: Values in one `IN` condition (markers, sys_ids).
IN_CHUNK = 100
#: Hard cap on the pages of one walk (a million incidents at 100 a page).
MAX_PAGES = 10_000
#: Pages of sys_choice rows read at most (20,000 choices of the incident fields).
MAX_CHOICE_PAGES = 20
#: ServiceNow's date-times are to the second.
TIMESTAMP_RESOLUTION = timedelta(seconds=1)
#: The tables incident inherits its columns from (correlation_id is defined on task).
MARKER_TABLES = ("incident", "task")
#: The sys_choice elements the connector reads labels of.
CHOICE_ELEMENTS = ("state", "priority", "category", "impact", "urgency")
GROUP_ID = KeyKind("ServiceNow group sys_id", "project_vendor_id", SYS_ID.pattern)
USER_ID = KeyKind("ServiceNow user sys_id", "assigned_user_vendor_id", SYS_ID.pattern)
#: An incident's number (INC0010001), or its sys_id.
TICKET_REF = KeyKind(
    "ServiceNow incident number or sys_id", "vendor_id", re.compile(r"[0-9a-f]{32}|[A-Z][A-Z0-9]*[0-9]+")
)
#: Our markers (`tb-` and hex) are safe inside an encoded query; nothing else is put there.
_MARKER = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class ServiceNowConnector:
    vendor = Vendor.SERVICENOW
    marker_settle_seconds = 0.0

    def __init__(
        self,
        *,
        client: ServiceNowClient,
        cache: MetadataCache,
        capabilities: Capabilities,
        instance_url: str,
        marker_field: str = "correlation_id",
        defaults: CloseDefaults | None = None,
        policy: RetryPolicy | None = None,
        use_batch: bool = True,
        max_concurrent_items: int = MAX_CONCURRENT_ITEMS,
    ) -> None:
        self.capabilities = capabilities
        self._client = client
        self._cache = cache
        self._instance_url = instance_url.rstrip("/")
        self._marker_field = marker_field
        self._defaults = defaults or CloseDefaults()
        self._policy = policy or RetryPolicy()
        self._slots = asyncio.Semaphore(max_concurrent_items)
        self._creator = Creator(
            client=client,
            cache=cache,
            policy=self._policy,
            use_batch=use_batch,
            batch_size=capabilities.bulk_create_size,
            max_concurrent_items=max_concurrent_items,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check_health(self) -> None:
        """Reads one incident id: bad credentials raise VendorAuthError, a missing role VendorRejected."""
        await self._list(TABLE, "ORDERBYsys_id", limit=1, fields=["sys_id"])

    # --- writes -------------------------------------------------------------------------------

    async def create_tickets(
        self, items: Sequence[CreateItem], *, reconcile: Collection[str] = (), provisional_ok: bool = False
    ) -> list[ItemOutcome]:
        """ServiceNow answers a create with the whole record: never provisional (`provisional_ok` unused)."""
        outcomes: dict[str, ItemOutcome] = {}
        for item in items:
            try:
                self._defaults.check_name(item.target_status)  # before any call
            except VendorRejected as exc:
                outcomes[item.key] = ItemOutcome(key=item.key, error=exc.message)
        todo = [item for item in items if item.key not in outcomes]
        if todo:
            try:
                await self._check_marker_field()
            except VendorRejected as exc:
                outcomes.update({item.key: ItemOutcome(key=item.key, error=exc.message) for item in todo})
                todo = []
        bodies: dict[str, Json] = {}
        if todo:
            choices = await self._choices()
            for item in todo:
                try:
                    bodies[item.key] = await self._create_values(item, choices)
                except VendorRejected as exc:
                    outcomes[item.key] = ItemOutcome(key=item.key, error=exc.message)
        if bodies:
            await self._adopt(items, bodies, reconcile, outcomes)
        if bodies:
            await self._create(bodies, outcomes)
        return [outcomes[item.key] for item in items]

    async def _create_values(self, item: CreateItem, choices: Choices) -> Json:
        checked(item.project_vendor_id, GROUP_ID)
        if item.assignee_vendor_id:
            checked(item.assignee_vendor_id, USER_ID)
        if not _MARKER.fullmatch(item.marker):
            raise VendorRejected(f"The marker {item.marker!r} cannot go into an encoded query.")
        parent = (
            await self._sys_id_of(item.parent_vendor_id, "parent_ticket_vendor_id") if item.parent_vendor_id else None
        )
        values = mapping.create_values(
            item, choices, self._defaults, marker_field=self._marker_field, parent_sys_id=parent
        )
        return values | custom.wire_values({k: v for k, v in item.custom_fields.items() if v.value is not None})

    async def _adopt(
        self,
        items: Sequence[CreateItem],
        bodies: dict[str, Json],
        reconcile: Collection[str],
        outcomes: dict[str, ItemOutcome],
    ) -> None:
        """Items an earlier attempt may have created are looked up by marker; found ones are adopted."""
        wanted = {item.marker: item for item in items if item.key in reconcile and item.key in bodies}
        if not wanted:
            return
        found = await self._find_by_markers(list(wanted))
        choices = await self._choices()
        for marker, raw in found.items():
            item = wanted[marker]
            log.info("connector.servicenow.create_adopted", marker=marker, sys_id=raw.get("sys_id"))
            outcomes[item.key] = ItemOutcome(key=item.key, ticket=self._ticket(raw, choices))
            bodies.pop(item.key)

    async def _create(self, bodies: dict[str, Json], outcomes: dict[str, ItemOutcome]) -> None:
        result = await self._creator.create(bodies)
        choices = await self._choices()
        for key, raw in result.created.items():
            outcomes[key] = ItemOutcome(key=key, ticket=self._ticket(raw, choices))
        for key, message in result.rejected.items():
            outcomes[key] = ItemOutcome(key=key, error=message)
        for key, message in result.unknown.items():
            outcomes[key] = ItemOutcome(
                key=key, error=f"ServiceNow did not confirm the create ({message}); reconciled by marker", unknown=True
            )
        maybe_written = bool(result.created or result.unknown)
        if result.not_sent and not maybe_written and not any(o.succeeded for o in outcomes.values()):
            raise next(iter(result.not_sent.values()))  # nothing was written: the whole batch waits
        for key, error in result.not_sent.items():
            outcomes[key] = ItemOutcome(
                key=key, error=f"ServiceNow did not take this create now: {error.message}", unknown=True
            )

    async def update_ticket(
        self, vendor_ref: str, changes: TicketChanges, *, expected: TicketBaseline | None
    ) -> VendorTicket:
        """See the module docstring for If-Match and its race window. Raises VendorRejected (before
        any call) when a closing or hold state lacks its values, VersionConflict, VendorNotFound."""
        self._defaults.check_name(changes.target_status)
        choices = await self._choices()
        values = mapping.update_values(changes, choices, self._defaults) | custom.wire_values(changes.custom_fields)
        if changes.assignee_vendor_id:
            checked(changes.assignee_vendor_id, USER_ID)
        current = await self._fetch(vendor_ref)
        version = str(current.get("sys_mod_count") or "0")
        if expected is not None and version != expected.version:
            raise VersionConflict("The incident changed in ServiceNow since that version.", current_version=version)
        if not values:
            return self._ticket(current, choices)
        sys_id = str(current["sys_id"])
        written = await update(self._client, self._policy, sys_id, values, read_back=partial(self._fetch, sys_id))
        after = _int(written.get("sys_mod_count"))
        if after > _int(version) + 1:
            log.warning("connector.servicenow.concurrent_write", sys_id=sys_id, read=version, written=after)
        return self._ticket(written, choices)

    async def update_tickets(self, refs: Sequence[TicketRef], changes: TicketChanges) -> list[ItemOutcome]:
        try:
            self._defaults.check_name(changes.target_status)
        except VendorRejected as exc:
            return [ItemOutcome(key=ref.vendor_id, error=exc.message) for ref in refs]

        async def run(ref: TicketRef) -> VendorTicket:
            async with self._slots:
                return await self.update_ticket(ref.vendor_id, changes, expected=None)

        results = await asyncio.gather(*(run(ref) for ref in refs), return_exceptions=True)
        outcomes: list[ItemOutcome] = []
        for ref, result in zip(refs, results, strict=True):
            if isinstance(result, (VendorRejected, VersionConflict)):
                outcomes.append(ItemOutcome(key=ref.vendor_id, error=result.message))
            elif isinstance(result, BaseException):
                raise result  # about the connection (retriable, auth): the job retries every item
            else:
                outcomes.append(ItemOutcome(key=ref.vendor_id, ticket=result))
        return outcomes

    # --- reads --------------------------------------------------------------------------------

    async def get_ticket(self, vendor_ref: str) -> VendorTicket:
        """By sys_id or number; raises VendorNotFound."""
        return self._ticket(await self._fetch(vendor_ref), await self._choices())

    async def _fetch(self, vendor_ref: str) -> Json:
        checked(vendor_ref, TICKET_REF)
        if SYS_ID.pattern.fullmatch(vendor_ref):
            return await self._read(partial(self._client.get_record, TABLE, vendor_ref), "getRecord")
        page = await self._list(TABLE, f"number={vendor_ref}", limit=1)
        if not page.rows:
            raise VendorNotFound(f"No incident {vendor_ref}.")
        return page.rows[0]

    async def _sys_id_of(self, vendor_ref: str, field: str) -> str:
        try:
            if SYS_ID.pattern.fullmatch(vendor_ref):
                return vendor_ref
            return str((await self._fetch(vendor_ref))["sys_id"])
        except VendorNotFound:
            raise VendorRejected(f"No incident {vendor_ref!r}.", field_errors={field: "not found"}) from None

    async def search_tickets(self, query: str, *, cursor: str | None, limit: int) -> SearchPage:
        """`query` is an encoded query on incident (`active=true^priority=1^ORDERBYnumber`); the
        cursor is an offset. As in ServiceNow, a condition on an unknown field is ignored."""
        if cursor is not None and not cursor.isdigit():
            raise VendorRejected(f"Invalid cursor {cursor!r}.", field_errors={"cursor": cursor})
        offset = int(cursor or 0)
        page = await self._list(TABLE, query, limit=min(limit, MAX_PAGE_SIZE), offset=offset)
        choices = await self._choices()
        more = _has_more(page, offset, min(limit, MAX_PAGE_SIZE))
        return SearchPage(
            items=[self._ticket(raw, choices) for raw in page.rows],
            next_cursor=str(offset + len(page.rows)) if more else None,
        )

    async def iter_tickets(
        self, *, updated_since: datetime | None, page_size: int
    ) -> AsyncIterator[list[VendorTicket]]:
        """Oldest change first, nothing skipped: the shared keyset walk over sys_updated_on (to the
        second), a second holding more than a page walked by sys_id."""
        size = min(page_size, MAX_PAGE_SIZE)

        async def since(moment: datetime | None, limit: int) -> Page[Json]:
            condition = f"sys_updated_on>={mapping.format_timestamp(moment)}^" if moment is not None else ""
            page = await self._list(TABLE, f"{condition}ORDERBYsys_updated_on^ORDERBYsys_id", limit=limit)
            return page.rows, _has_more(page, 0, limit)

        async def window(start: datetime, end: datetime, after: Json | None, limit: int) -> Page[Json]:
            query = (
                f"sys_updated_on>={mapping.format_timestamp(start)}^sys_updated_on<{mapping.format_timestamp(end)}"
                + (f"^sys_id>{after['sys_id']}" if after is not None else "")
                + "^ORDERBYsys_id"
            )
            page = await self._list(TABLE, query, limit=limit)
            return page.rows, _has_more(page, 0, limit)

        feed = ChangeFeed(
            since=since,
            window=window,
            changed_at=lambda raw: _moment(raw.get("sys_updated_on")),
            identity=lambda raw: (str(raw["sys_id"]), str(raw.get("sys_mod_count"))),
            resolution=TIMESTAMP_RESOLUTION,
        )
        async for rows in walk_changes(feed, since=updated_since, page_size=size, max_pages=MAX_PAGES):
            choices = await self._choices()
            yield [self._ticket(raw, choices) for raw in rows]

    async def iter_ticket_ids(self, *, page_size: int) -> AsyncIterator[list[str]]:
        """Keyset on sys_id (`sys_id>last`), which never changes: nothing that exists is missed."""
        async for rows in self._keyset(TABLE, "", fields=["sys_id"], page_size=page_size):
            yield [str(row["sys_id"]) for row in rows]

    async def get_tickets(self, vendor_ids: Sequence[str]) -> dict[str, VendorTicket]:
        """`sys_idIN...` 100 at a time; an id that is no sys_id names no incident."""
        wellformed = [vendor_id for vendor_id in vendor_ids if SYS_ID.pattern.fullmatch(vendor_id)]
        tickets: dict[str, VendorTicket] = {}
        for start in range(0, len(wellformed), IN_CHUNK):
            chunk = wellformed[start : start + IN_CHUNK]
            page = await self._list(TABLE, f"sys_idIN{','.join(chunk)}", limit=len(chunk))
            choices = await self._choices()
            tickets.update((str(raw["sys_id"]), self._ticket(raw, choices)) for raw in page.rows)
        return tickets

    async def existing_ticket_ids(self, vendor_ids: Sequence[str]) -> set[str]:
        """Asked of ServiceNow directly, `sys_idIN...` 100 at a time. An id that is no sys_id names
        no incident."""
        wellformed = [vendor_id for vendor_id in vendor_ids if SYS_ID.pattern.fullmatch(vendor_id)]
        found: set[str] = set()
        for start in range(0, len(wellformed), IN_CHUNK):
            chunk = wellformed[start : start + IN_CHUNK]
            page = await self._list(TABLE, f"sys_idIN{','.join(chunk)}", limit=len(chunk), fields=["sys_id"])
            found.update(str(row["sys_id"]) for row in page.rows)
        return found & set(vendor_ids)

    async def _find_by_markers(self, markers: list[str]) -> dict[str, Json]:
        """Incidents carrying any of `markers` (the oldest, if one was ever duplicated). Only after
        the marker field is known to exist: on an unknown field the condition would match all."""
        await self._check_marker_field()
        found: dict[str, Json] = {}
        wanted = set(markers)
        for start in range(0, len(markers), IN_CHUNK):
            chunk = markers[start : start + IN_CHUNK]
            query = f"{self._marker_field}IN{','.join(chunk)}^ORDERBYsys_created_on"
            page = await self._list(TABLE, query, limit=MAX_PAGE_SIZE)
            for raw in page.rows:
                marker = str(raw.get(self._marker_field) or "")
                if marker in wanted:  # never trust the filter alone
                    found.setdefault(marker, raw)
        return found

    async def _check_marker_field(self) -> None:
        """The marker field must be a column of incident (or task, which incident extends), as
        sys_dictionary says (or an incident read shows); checked once per connection cache. Raises
        VendorRejected otherwise."""

        async def load() -> bool:
            field = self._marker_field
            query = f"nameIN{','.join(MARKER_TABLES)}^element={field}"
            page = await self._list("sys_dictionary", query, limit=10, fields=["name", "element"])
            if any(row.get("element") == field and row.get("name") in MARKER_TABLES for row in page.rows):
                return True
            # An integration user may lack read access to sys_dictionary (its rows are then filtered
            # out, not refused): a column of incident is still named in an incident read's fields
            # ("invalid fields are ignored", so an unknown one is absent).
            probe = await self._list(TABLE, "ORDERBYsys_id", limit=1, fields=["sys_id", field])
            if not (probe.rows and field in probe.rows[0]):
                raise VendorRejected(
                    f"ServiceNow's incident table has no field {self._marker_field!r} to hold the creation marker.",
                    field_errors={"marker_field": f"{self._marker_field!r} is not an incident field"},
                )
            return True

        await self._cache.cached(
            ("servicenow", f"marker_field:{self._marker_field}"), load, ttl_seconds=FOREVER_SECONDS
        )

    # --- write metadata -------------------------------------------------------------------------

    async def write_metadata(
        self, project_vendor_id: str, *, type_vendor_id: str | None, type_name: str | None, refresh: bool = False
    ) -> WriteMetadata:
        """sys_dictionary's incident columns: the same for every group and category (ServiceNow has
        no create screen per group); the group must be a well-formed sys_id."""
        checked(project_vendor_id, GROUP_ID)
        return await self._incident_metadata(refresh=refresh)

    async def edit_metadata(self, vendor_ref: str, *, refresh: bool = False) -> WriteMetadata:
        """The same columns as a create (per-record UI policies are not read); the incident must exist."""
        await self._fetch(vendor_ref)
        return await self._incident_metadata(refresh=refresh)

    async def _incident_metadata(self, *, refresh: bool) -> WriteMetadata:
        async def load() -> WriteMetadata:
            query = f"nameIN{','.join(MARKER_TABLES)}^active=true"
            columns = ["name", "element", "column_label", "internal_type", "reference", "mandatory", "read_only"]
            page = await self._list("sys_dictionary", query, limit=MAX_PAGE_SIZE, fields=columns)
            return custom.write_metadata(page.rows)

        key = ("servicenow", "write_metadata")
        return await self._cache.cached(key, load, ttl_seconds=WRITE_METADATA_TTL_SECONDS, refresh=refresh)

    # --- directory and passthrough ---------------------------------------------------------------

    async def list_projects(self, *, limit: int, offset: int, with_issue_types: bool) -> ProjectPage:
        """Active assignment groups by name; with their issue types (the incident categories, the
        same for every group) when asked."""
        page = await self._list("sys_user_group", "active=true^ORDERBYname^ORDERBYsys_id", limit=limit, offset=offset)
        types = tuple(mapping.to_vendor_issue_types(await self._choices())) if with_issue_types else None
        projects = [_project(row).model_copy(update={"issue_types": types}) for row in page.rows]
        return ProjectPage(items=projects, total=page.total)

    async def list_issue_types(self, project_vendor_id: str) -> list[VendorIssueType]:
        checked(project_vendor_id, GROUP_ID)
        return mapping.to_vendor_issue_types(await self._choices())

    async def list_assignable_users(self, project_vendor_id: str, query: str | None, limit: int) -> list[VendorUser]:
        """Active members of the group (sys_user_grmember) whose name, user name or email contains
        `query`; the text is matched here, never put into an encoded query."""
        checked(project_vendor_id, GROUP_ID)
        member_ids: list[str] = []
        async for rows in self._keyset("sys_user_grmember", f"group={project_vendor_id}", fields=["sys_id", "user"]):
            member_ids += [user for row in rows if (user := mapping.reference(row.get("user")))]
        needle = (query or "").casefold()
        users: list[VendorUser] = []
        for start in range(0, len(member_ids), IN_CHUNK):
            chunk = [user for user in member_ids[start : start + IN_CHUNK] if SYS_ID.pattern.fullmatch(user)]
            page = await self._list("sys_user", f"active=true^sys_idIN{','.join(chunk)}^ORDERBYname", limit=len(chunk))
            users += [_user(row) for row in page.rows if needle in _user_text(row)]
            if len(users) >= limit:
                break
        return users[:limit]

    async def iter_projects(self) -> AsyncIterator[list[VendorProject]]:
        async for rows in self._keyset("sys_user_group", "active=true"):
            yield [_project(row) for row in rows]

    async def iter_users(self) -> AsyncIterator[list[VendorUser]]:
        async for rows in self._keyset("sys_user", ""):
            yield [_user(row) for row in rows]

    async def list_priorities(self) -> list[VendorPriority]:
        """sys_choice of incident.priority, read now (and the cache refreshed)."""
        return mapping.to_vendor_priorities(await self._choices(refresh=True))

    async def list_statuses(self) -> list[VendorStatus]:
        """sys_choice of incident.state, custom states included, read now."""
        return mapping.to_vendor_statuses(await self._choices(refresh=True))

    # --- plumbing -------------------------------------------------------------------------------

    def _ticket(self, raw: Json, choices: Choices) -> VendorTicket:
        return mapping.to_vendor_ticket(raw, choices, instance_url=self._instance_url, marker_field=self._marker_field)

    async def _choices(self, *, refresh: bool = False) -> Choices:
        query = f"name={TABLE}^elementIN{','.join(CHOICE_ELEMENTS)}^inactive=false^ORDERBYsequence^ORDERBYsys_id"
        fields = ["element", "value", "label", "sequence", "inactive", "language"]

        async def page(offset: int) -> OffsetPage[Json]:
            records = await self._list("sys_choice", query, limit=MAX_PAGE_SIZE, offset=offset, fields=fields)
            return records.rows, _has_more(records, offset, MAX_PAGE_SIZE)

        async def load() -> Choices:
            rows: list[Json] = []
            async for chunk in offset_pages(page, operation="list:sys_choice", max_pages=MAX_CHOICE_PAGES):
                rows += [row for row in chunk if row.get("language") in (None, "", "en")]
            return Choices.from_rows(rows)

        return await self._cache.cached(
            ("servicenow", "choices"), load, ttl_seconds=METADATA_TTL_SECONDS, refresh=refresh
        )

    async def _keyset(
        self, table: str, condition: str, *, fields: list[str] | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[list[Json]]:
        """Every row matching `condition`, by sys_id, a fresh query a page (`sys_id>last`)."""
        size = min(page_size, MAX_PAGE_SIZE)
        after: str | None = None
        for _ in range(MAX_PAGES):
            parts = [part for part in (condition, f"sys_id>{after}" if after else "") if part]
            page = await self._list(table, "^".join([*parts, "ORDERBYsys_id"]), limit=size, fields=fields)
            if page.rows:
                yield page.rows
            if not _has_more(page, 0, size):
                return
            last = str(page.rows[-1]["sys_id"])
            if last == after:
                raise WalkStalled("ServiceNow answered the same page twice; the walk stopped.")
            after = last

    async def _list(
        self, table: str, query: str, *, limit: int, offset: int = 0, fields: list[str] | None = None
    ) -> Records:
        call = partial(self._client.list_records, table, query=query, limit=limit, offset=offset, fields=fields)
        return await self._read(call, f"list:{table}")

    async def _read(self, call: Callable[[], Awaitable[T]], operation: str) -> T:
        return await with_retries(call, policy=self._policy, operation=operation, idempotent=True)


def _has_more(page: Records, offset: int, limit: int) -> bool:
    if not page.rows:
        return False
    if page.total is not None:
        return offset + len(page.rows) < page.total
    return len(page.rows) >= limit


def _project(row: Json) -> VendorProject:
    return VendorProject(
        vendor_id=str(row["sys_id"]), internal_id=None, name=str(row.get("name") or row["sys_id"]), project_type=None
    )


def _user(row: Json) -> VendorUser:
    name = row.get("name") or " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
    return VendorUser(
        vendor_id=str(row["sys_id"]),
        name=str(name) if name else row.get("user_name") or None,
        email=row.get("email") or None,
        active=str(row.get("active", "true")).lower() == "true",
    )


def _user_text(row: Json) -> str:
    return " ".join(str(row.get(key) or "") for key in ("name", "user_name", "email")).casefold()


def _moment(value: Any) -> datetime | None:
    try:
        return mapping.parse_timestamp(value)
    except ValueError:
        return None


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
