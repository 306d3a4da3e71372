"""Lists of synced data (tickets, projects, users) with opaque keyset cursors.

Order: oldest change first, by the row's `updated_at` (the time our store last changed it), then id.
A cursor is base64url JSON naming the list, a direction and a position (updated_at, id); it holds no
offset, so a page is found by one index range scan however deep it is.

Guarantee for a walk from the first page along `next_cursor` until it is null: every row that exists
and does not change during the walk is listed exactly once, in order, whatever is inserted or
changed meanwhile. A row inserted or changed during the walk gets a new `updated_at` later than any
position already passed, so it is listed later in the same walk (once more, if it had already been
listed before it changed), never skipped. `previous_cursor` walks back the same way. `offset` pages
are accepted too, but shift when rows change; prefer cursors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.directory import ProjectRead, UserRead
from ticketbridge.domain.inputs import BoundedDateTime
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead
from ticketbridge.errors import InvalidRequest
from ticketbridge.services import cursors
from ticketbridge.store import listing as store
from ticketbridge.store.listing import DirectoryFilters, Page, Position, TicketFilters, Window

T = TypeVar("T", TicketRead, ProjectRead, UserRead)
FORWARD, BACKWARD = "a", "b"
#: [list, direction, updated_at, id]
_CURSOR = TypeAdapter(tuple[str, Literal["a", "b"], BoundedDateTime, uuid.UUID])


@dataclass(frozen=True, slots=True)
class ListPage(Generic[T]):
    items: list[T]
    next_cursor: str | None
    previous_cursor: str | None


async def list_tickets(
    db: AsyncSession,
    connection: ConnectionRead,
    filters: TicketFilters,
    *,
    limit: int,
    cursor: str | None,
    offset: int,
) -> ListPage[TicketRead]:
    window = _window("tickets", limit, cursor, offset)
    page = await store.list_tickets(db, connection_id=connection.id, filters=filters, window=window)
    return _assemble("tickets", page, window)


async def list_projects(
    db: AsyncSession,
    connection: ConnectionRead,
    filters: DirectoryFilters,
    *,
    limit: int,
    cursor: str | None,
    offset: int,
) -> ListPage[ProjectRead]:
    window = _window("projects", limit, cursor, offset)
    page = await store.list_projects(db, connection_id=connection.id, filters=filters, window=window)
    return _assemble("projects", page, window)


async def list_users(
    db: AsyncSession,
    connection: ConnectionRead,
    filters: DirectoryFilters,
    *,
    limit: int,
    cursor: str | None,
    offset: int,
) -> ListPage[UserRead]:
    window = _window("users", limit, cursor, offset)
    page = await store.list_users(db, connection_id=connection.id, filters=filters, window=window)
    return _assemble("users", page, window)


def _assemble(kind: str, page: Page[T], window: Window) -> ListPage[T]:
    items = page.items
    if not items:
        return ListPage(items=[], next_cursor=None, previous_cursor=None)
    first, last = _position(items[0]), _position(items[-1])
    if window.before is not None:
        return ListPage(
            items=items,
            next_cursor=encode_cursor(kind, FORWARD, last),
            previous_cursor=encode_cursor(kind, BACKWARD, first) if page.more else None,
        )
    return ListPage(
        items=items,
        next_cursor=encode_cursor(kind, FORWARD, last) if page.more else None,
        previous_cursor=encode_cursor(kind, BACKWARD, first) if page.any_before else None,
    )


def _position(item: TicketRead | ProjectRead | UserRead) -> Position:
    return Position(updated_at=item.updated_at, id=item.id)


def _window(kind: str, limit: int, cursor: str | None, offset: int) -> Window:
    if cursor is None:
        return Window(limit=limit, offset=offset)
    if offset:
        raise InvalidRequest(
            "Give either cursor or offset, not both.",
            details=[{"loc": ["query", "offset"], "msg": "not allowed with cursor", "type": "value_error"}],
        )
    direction, position = decode_cursor(kind, cursor)
    if direction == FORWARD:
        return Window(limit=limit, after=position)
    return Window(limit=limit, before=position)


def encode_cursor(kind: str, direction: str, position: Position) -> str:
    return cursors.encode([kind, direction, position.updated_at.isoformat(), str(position.id)])


def decode_cursor(kind: str, cursor: str) -> tuple[str, Position]:
    named, direction, updated_at, row_id = cursors.decode(cursor, _CURSOR, issued_by=kind)
    if named != kind:
        raise cursors.invalid(kind, f"it belongs to the {named[:20]!r} list")
    return direction, Position(updated_at=updated_at, id=row_id)
