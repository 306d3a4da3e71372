"""Keyset pages of tickets, projects and users, in (updated_at, id) order, oldest change first.

Rows are read as plain Core rows of the columns each read model needs, and validated straight into it
(no ORM instances). Every list is one index range scan on (connection_id, updated_at, id) (the `ix_*_connection_updated`
indexes), so page 10,000 costs what page 1 costs. `Window.after` pages forward from a position,
`Window.before` backward (read descending, then reversed); `offset` is accepted for forward pages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ticketbridge.domain.directory import ProjectRead, UserRead
from ticketbridge.domain.tickets import TicketRead
from ticketbridge.store.base import read_columns
from ticketbridge.store.tables import ProjectRow, TicketRow, UserRow

T = TypeVar("T")

_TICKETS = select(*read_columns(TicketRow, TicketRead))
_PROJECTS = select(*read_columns(ProjectRow, ProjectRead))
_USERS = select(*read_columns(UserRow, UserRead))


@dataclass(frozen=True, slots=True)
class Position:
    updated_at: datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    after: Position | None = None
    before: Position | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    #: More rows lie beyond the page in the direction it was read.
    more: bool
    #: Rows lie before the page's first (asked only of forward pages that did not start at the top).
    any_before: bool


@dataclass(frozen=True, slots=True)
class TicketFilters:
    status: str | None = None
    priority: str | None = None
    project_id: uuid.UUID | None = None
    assigned_user_id: uuid.UUID | None = None
    type: str | None = None
    identifier: str | None = None
    updated_since: datetime | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryFilters:
    name: str | None = None
    email: str | None = None
    status: str | None = None
    project_id: uuid.UUID | None = None
    updated_since: datetime | None = None


def _beyond(
    updated: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any], at: Position, *, forward: bool
) -> ColumnElement[bool]:
    # `updated >= x AND (updated > x OR id > y)` rather than a row comparison: the first term bounds
    # the index range on every database, the second drops the rows up to the position itself.
    if forward:
        return and_(updated >= at.updated_at, or_(updated > at.updated_at, key > at.id))
    return and_(updated <= at.updated_at, or_(updated < at.updated_at, key < at.id))


async def _page(
    db: AsyncSession,
    statement: Select[Any],
    updated: InstrumentedAttribute[Any],
    key: InstrumentedAttribute[Any],
    window: Window,
    read: type[T],
) -> Page[T]:
    if window.before is not None:
        ordered = statement.where(_beyond(updated, key, window.before, forward=False)).order_by(
            updated.desc(), key.desc()
        )
        rows = list((await db.execute(ordered.limit(window.limit + 1))).all())
        items = [_read(read, row) for row in rows[: window.limit][::-1]]
        return Page(items=items, more=len(rows) > window.limit, any_before=False)
    if window.after is not None:
        statement_after = statement.where(_beyond(updated, key, window.after, forward=True))
    else:
        statement_after = statement
    ordered = statement_after.order_by(updated, key).offset(window.offset or None)
    rows = list((await db.execute(ordered.limit(window.limit + 1))).all())
    page = rows[: window.limit]
    any_before = False
    if page and (window.after is not None or window.offset):
        first = Position(updated_at=getattr(page[0], updated.key), id=getattr(page[0], key.key))
        any_before = bool(await db.scalar(select(exists(statement.where(_beyond(updated, key, first, forward=False))))))
    items = [_read(read, row) for row in page]
    return Page(items=items, more=len(rows) > window.limit, any_before=any_before)


def _read(read: type[T], row: Any) -> T:
    value: T = read.model_validate(row)  # type: ignore[attr-defined]
    return value


async def list_tickets(
    db: AsyncSession, *, connection_id: uuid.UUID, filters: TicketFilters, window: Window
) -> Page[TicketRead]:
    statement = _TICKETS.where(TicketRow.connection_id == connection_id)
    equal: dict[str, Any] = {
        "status": filters.status,
        "priority": filters.priority,
        "project_id": filters.project_id,
        "assigned_user_id": filters.assigned_user_id,
        "type": filters.type,
        "identifier": filters.identifier,
    }
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(getattr(TicketRow, column) == value)
    if filters.updated_since is not None:
        statement = statement.where(TicketRow.updated_at >= filters.updated_since)
    if filters.name:
        statement = statement.where(TicketRow.name.icontains(filters.name, autoescape=True))
    return await _page(db, statement, TicketRow.updated_at, TicketRow.id, window, TicketRead)


async def list_projects(
    db: AsyncSession, *, connection_id: uuid.UUID, filters: DirectoryFilters, window: Window
) -> Page[ProjectRead]:
    statement = _PROJECTS.where(ProjectRow.connection_id == connection_id)
    if filters.name:
        statement = statement.where(ProjectRow.name.icontains(filters.name, autoescape=True))
    if filters.updated_since is not None:
        statement = statement.where(ProjectRow.updated_at >= filters.updated_since)
    return await _page(db, statement, ProjectRow.updated_at, ProjectRow.id, window, ProjectRead)


async def list_users(
    db: AsyncSession, *, connection_id: uuid.UUID, filters: DirectoryFilters, window: Window
) -> Page[UserRead]:
    statement = _USERS.where(UserRow.connection_id == connection_id)
    if filters.name:
        statement = statement.where(UserRow.name.icontains(filters.name, autoescape=True))
    if filters.email:
        statement = statement.where(UserRow.email.icontains(filters.email, autoescape=True))
    if filters.status:
        statement = statement.where(UserRow.status == filters.status)
    if filters.project_id is not None:
        # We keep no project membership: a user belongs to a project they are assigned or reported in.
        statement = statement.where(
            exists().where(
                TicketRow.connection_id == connection_id,
                TicketRow.project_id == filters.project_id,
                or_(TicketRow.assigned_user_id == UserRow.id, TicketRow.created_by_user_id == UserRow.id),
            )
        )
    if filters.updated_since is not None:
        statement = statement.where(UserRow.updated_at >= filters.updated_since)
    return await _page(db, statement, UserRow.updated_at, UserRow.id, window, UserRead)
