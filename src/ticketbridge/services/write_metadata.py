"""Write metadata: what a create into a project and type, or an edit of a ticket, can set now, and
the preflight of creates against it (`preflight.py` holds the checks).

The connector reads its vendor's metadata and caches it per (connection, project, type) in the
connection's MetadataCache (`connectors.base.WRITE_METADATA_TTL_SECONDS`). A write the vendor
refuses for a field reason means the cached metadata is stale: `refresh_after_refusal` reads it
again, so the next preflight sees the vendor's configuration as it is now.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorNotFound
from ticketbridge.domain.fields import WriteMetadata
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.errors import InvalidRequest
from ticketbridge.services import preflight
from ticketbridge.services.ticket_requests import ResolvedCreate
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import directory
from ticketbridge.store import tickets as tickets_store

#: (project vendor id, type vendor id, type name): the scope of one create's write metadata.
Scope = tuple[str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class CreateTarget:
    project_id: uuid.UUID | None
    project_vendor_id: str | None
    type: str | None
    type_vendor_id: str | None


async def create_metadata(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    target: CreateTarget,
) -> WriteMetadata:
    """GET /v1/itsm/tickets/meta/create. Raises InvalidRequest naming a missing or doubled
    parameter, NotFound for a project or type the vendor (or the store) does not know."""
    problems = preflight.Checked()
    if (target.project_id is None) == (target.project_vendor_id is None):
        problems.add(["query", "project_id"], "value_error", "give one of project_id or project_vendor_id")
    if not (target.type or target.type_vendor_id):
        problems.add(["query", "type"], "value_error", "give one of type or type_vendor_id")
    if problems.problems:
        raise InvalidRequest("The metadata request is invalid.", details=problems.problems)
    project = target.project_vendor_id
    if target.project_id is not None:
        async with sessionmaker.begin() as db:
            known = await directory.project_vendor_ids(db, [target.project_id], connection_id=connection.id)
        project = known.get(target.project_id)
        if project is None:
            raise InvalidRequest(
                "Unknown project.",
                details=[
                    {
                        "loc": ["query", "project_id"],
                        "msg": f"unknown project {target.project_id} on this connection",
                        "type": "value_error",
                    }
                ],
            )
    assert project is not None
    async with access.open(connection) as connector:
        return await connector.write_metadata(project, type_vendor_id=target.type_vendor_id, type_name=target.type)


async def update_metadata(
    sessionmaker: async_sessionmaker[AsyncSession],
    access: VendorAccess,
    connection: ConnectionRead,
    ticket_id: uuid.UUID,
) -> WriteMetadata:
    """GET /v1/itsm/tickets/{ticket_id}/meta/update: the edit screen, and the fields each transition
    from the ticket's status takes where the connector reads them (Rezolve's `requiredFields`)."""
    async with sessionmaker.begin() as db:
        ticket = await tickets_store.get_ticket(db, ticket_id, connection_id=connection.id)
    async with access.open(connection) as connector:
        return await connector.edit_metadata(ticket.vendor_key)


def scope_of(entry: ResolvedCreate) -> Scope:
    item = entry.item
    return (item.project_vendor_id, item.type_vendor_id, None if item.type_vendor_id else item.type_name)


async def metadata_for(connector: Connector, scope: Scope, *, refresh: bool = False) -> WriteMetadata | None:
    """The scope's write metadata; None when the vendor knows no such project or type (the create
    then goes to the vendor, which refuses it with its own words, as before there was a preflight)."""
    project, type_vendor_id, type_name = scope
    try:
        return await connector.write_metadata(
            project, type_vendor_id=type_vendor_id, type_name=type_name, refresh=refresh
        )
    except VendorNotFound:
        return None


@dataclass(frozen=True, slots=True)
class Preflighted:
    #: The entries that passed, their custom fields converted into the items.
    passed: list[ResolvedCreate]
    #: request_index -> the problems of an entry that did not pass.
    failed: dict[int, list[dict[str, object]]]


async def preflight_creates(connector: Connector, entries: Sequence[ResolvedCreate], *, in_bulk: bool) -> Preflighted:
    """Checks every entry against its project and type's write metadata (one read per scope, from
    the cache when fresh); no vendor write happens here."""
    metadata: dict[Scope, WriteMetadata | None] = {}
    for entry in entries:
        scope = scope_of(entry)
        if scope not in metadata:
            metadata[scope] = await metadata_for(connector, scope)
    passed: list[ResolvedCreate] = []
    failed: dict[int, list[dict[str, object]]] = {}
    for entry in entries:
        meta = metadata[scope_of(entry)]
        if meta is None:
            passed.append(entry)
            continue
        prefix: list[object] = ["body", "tickets", entry.request_index] if in_bulk else ["body"]
        checked = preflight.check_create(
            meta,
            unified_given=entry.unified_given,
            custom_fields=entry.custom_input,
            users=entry.users,
            prefix=prefix,
        )
        if checked.problems:
            failed[entry.request_index] = checked.problems
        else:
            item = entry.item.model_copy(update={"custom_fields": checked.values})
            passed.append(replace(entry, item=item))
    return Preflighted(passed=passed, failed=failed)


async def refresh_after_refusal(connector: Connector, scopes: Sequence[Scope]) -> dict[Scope, WriteMetadata | None]:
    """Reads the write metadata of `scopes` again (a field refusal says the cached copy is stale);
    answers it as read now."""
    return {scope: await metadata_for(connector, scope, refresh=True) for scope in dict.fromkeys(scopes)}


async def check_edit(
    connector: Connector,
    vendor_key: str,
    changes: TicketChanges,
    *,
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
    prefix: list[Any],
) -> preflight.Checked:
    """`changes` against the ticket's edit metadata now (cached by the connector): its problems, and
    its custom fields converted for the vendor."""
    meta = await connector.edit_metadata(vendor_key)
    given, cleared = preflight.unified_of(changes)
    return preflight.check_update(
        meta,
        unified_given=given,
        unified_cleared=cleared,
        custom_fields=custom_fields,
        users=users,
        prefix=prefix,
        target_status=changes.target_status,
    )
